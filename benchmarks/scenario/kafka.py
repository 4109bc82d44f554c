"""``stack.kafka``: how many brokers and how the run's topic is replicated."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from benchmarks.scenario.base import Strict


class KafkaSettings(Strict):
    """One broker (the default, as the quickstart runs) or a replicated 3-node KRaft cluster."""

    brokers: int = Field(
        1, description="Kafka brokers: 1, or 3 combined broker+controller KRaft nodes, each "
        "path into each broker behind its own proxy (native provider only).",
    )
    replication_factor: int | None = Field(
        None, description="Replicas per partition of the run's topic; default = brokers.",
    )
    min_insync_replicas: int | None = Field(
        None, description="min.insync.replicas of the run's topic (acks=all needs this many "
        "in-sync replicas); default 1 with one broker, 2 with three.",
    )
    unclean_leader_election: bool = Field(
        False, description="unclean.leader.election.enable: an out-of-sync replica may become "
        "leader (availability over acked writes).",
    )

    @field_validator("brokers")
    @classmethod
    def _one_or_three(cls, value: int) -> int:
        if value not in (1, 3):
            raise ValueError(f"must be 1 or 3, got {value}: a KRaft quorum of 2 controllers "
                             f"stops when either fails (no better than 1), and this stack "
                             f"runs at most 3")
        return value

    @model_validator(mode="after")
    def _fits_the_brokers(self) -> KafkaSettings:
        """Fill in the defaults for the broker count; then RF ≤ brokers, min ISR ≤ RF."""
        rf = self.replication_factor if self.replication_factor is not None else self.brokers
        if rf > self.brokers:
            raise ValueError(f"replication_factor {rf} is more than brokers ({self.brokers}): "
                             f"each replica needs its own broker")
        if rf < 1:
            raise ValueError(f"replication_factor must be at least 1, got {rf}")
        isr = self.min_insync_replicas if self.min_insync_replicas is not None else min(2, rf)
        if isr > rf:
            raise ValueError(f"min_insync_replicas {isr} is more than replication_factor "
                             f"({rf}): a produce with acks=all could never succeed")
        if isr < 1:
            raise ValueError(f"min_insync_replicas must be at least 1, got {isr}")
        self.replication_factor, self.min_insync_replicas = rf, isr
        return self
