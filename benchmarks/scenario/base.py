"""The base of every scenario model (the scenario's sections and the chaos package's fault
declarations): unknown keys are errors, and whole-scenario values reach nested validators
as validation context."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo


class Strict(BaseModel):
    """Base of every scenario model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def context_value(info: ValidationInfo, key: str) -> Any:
    """A whole-scenario value (e.g. ``duration_s``) passed down as validation context."""
    return (info.context or {}).get(key)
