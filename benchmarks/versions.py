"""Versions of every component a run used, for its journal."""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any

from system.stack import versions as pinned

PACKAGES = ("kafka-python", "pyspark", "pymongo", "flask", "waitress", "locust", "pandas",
            "pyarrow", "pydantic", "toxiproxy-python")


def collect(target: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"python": platform.python_version(), "iotbench": _pkg("iotbench")}
    found.update({name: _pkg(name) for name in PACKAGES})
    found["spark"] = found["pyspark"]
    found["spark-sql-kafka-0-10"] = f"{pinned.SCALA}-{found['pyspark']}"
    if target.provider == "native":
        found["kafka"] = pinned.KAFKA
        found["ferretdb"] = pinned.FERRETDB
        found["toxiproxy"] = pinned.TOXIPROXY
    if target.links is not None:
        try:
            found["toxiproxy-server"] = target.links.version()
        except Exception as exc:  # noqa: BLE001 - a version is nice to have
            found["toxiproxy-server"] = f"unknown ({exc})"
    try:
        from pymongo import MongoClient

        with MongoClient(target.admin_mongo_uri, serverSelectionTimeoutMS=3000) as client:
            found["mongo-wire-server"] = client.server_info().get("version")
    except Exception as exc:  # noqa: BLE001
        found["mongo-wire-server"] = f"unknown ({exc})"
    return found


def _pkg(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
