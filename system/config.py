"""Where iotbench keeps things and which ports it uses.

One configuration object, fed by environment variables with the prefix ``IOTBENCH_``
(as testcontainers' ``core/config.py`` does), so tests, the CLI and the runner agree.

- ``IOTBENCH_CACHE``      downloads and builds (jars, Go binaries, wheels, npm packages);
                          default ``~/.cache/iotbench``. Kept across runs: a second
                          ``iotbench setup`` reuses it and works offline.
- ``IOTBENCH_STATE``      a running stack's data, logs and state file; default ``./.iotbench``.
- ``IOTBENCH_PORT_OFFSET`` added to every default port below (run two stacks side by side).
- ``IOTBENCH_POSTGRES_BINDIR`` PostgreSQL's server binaries (initdb, postgres, pg_isready) for
                          ``stack.mongo: ferretdb-postgres``; default: found on PATH, by
                          ``pg_config --bindir`` or in ``/usr/lib/postgresql/*/bin``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("IOTBENCH_CACHE", Path.home() / ".cache" / "iotbench")).resolve()


def state_dir() -> Path:
    return Path(os.environ.get("IOTBENCH_STATE", Path.cwd() / ".iotbench")).resolve()


@dataclass(frozen=True)
class Ports:
    """Every port the native stack binds on 127.0.0.1.

    Proxy listen ports stay outside the ephemeral range (32768-61000) so an outgoing
    connection can never hold one. The seed's access points are kept: dashboard 5000,
    Spark master UI 8081, Mongo 27017, Kafka 9092 (here: the producer's link).
    """

    kafka_direct: int = 19092
    """Kafka's direct listener for admin tools and tests that bypass proxies; with one broker
    also its inter-broker listener. Broker *n* of a 3-broker cluster uses every ``kafka_*``
    port plus ``BROKER_PORT_STRIDE * (n - 1)``; see :mod:`system.stack.kafka_cluster`."""
    kafka_controller: int = 19093
    """KRaft controller listener (never proxied with one broker)."""
    kafka_producer_backend: int = 19094
    """Kafka listener behind the ``producer-kafka`` proxy; advertises ``producer_kafka``."""
    kafka_spark_backend: int = 19095
    """Kafka listener behind the ``spark-kafka`` proxy; advertises ``spark_kafka``."""
    producer_kafka: int = 9092
    """Toxiproxy listen port of the ``producer-kafka`` link (what producers bootstrap to)."""
    spark_kafka: int = 9093
    """Toxiproxy listen port of the ``spark-kafka`` link (what Spark bootstraps to)."""
    kafka_replication_backend: int = 19096
    """3 brokers only: the inter-broker (replication) listener behind ``kafka-N-replication``."""
    kafka_replication: int = 9094
    """3 brokers only: Toxiproxy listen port of ``kafka-1-replication`` (advertised)."""
    kafka_controller_link: int = 9095
    """3 brokers only: Toxiproxy listen port of ``kafka-1-controller`` (in the quorum voters)."""
    mongo: int = 27017
    """The MongoDB-wire server itself."""
    spark_mongo: int = 27018
    """Toxiproxy listen port of the ``spark-mongo`` link."""
    dashboard_mongo: int = 27019
    """Toxiproxy listen port of the ``dashboard-mongo`` link."""
    toxiproxy_api: int = 8474
    """Toxiproxy's HTTP API."""
    spark_master: int = 7077
    spark_master_ui: int = 8081
    spark_worker_base: int = 7100
    """Worker *i* uses ``spark_worker_base + i`` for RPC."""
    spark_worker_ui_base: int = 8091
    """Worker *i* serves its UI on ``spark_worker_ui_base + i``."""
    dashboard: int = 5000
    locust_ui: int = 8089
    postgres: int = 15432
    """The private PostgreSQL cluster behind FerretDB (``stack.mongo: ferretdb-postgres``)."""

    @classmethod
    def from_env(cls, offset: int | None = None) -> Ports:
        """Defaults shifted by ``offset`` (else ``IOTBENCH_PORT_OFFSET``), then any
        ``IOTBENCH_PORT_<NAME>`` set for one port."""
        if offset is None:
            offset = int(os.environ.get("IOTBENCH_PORT_OFFSET", "0"))
        values = {}
        for f in fields(cls):
            env = os.environ.get(f"IOTBENCH_PORT_{f.name.upper()}")
            values[f.name] = int(env) if env else f.default + offset
        return cls(**values)


HOST = "127.0.0.1"

BROKER_PORT_STRIDE = 10
"""Broker *n* of a replicated cluster: each of broker 1's Kafka ports + 10 × (n − 1)."""

LINKS = ("producer-kafka", "spark-kafka", "spark-mongo", "dashboard-mongo")
"""The four proxied links; each is one Toxiproxy proxy named exactly so."""

TOPIC = "iot-data"


@dataclass(frozen=True)
class Endpoints:
    """Addresses clients use; every client of a link goes through its proxy."""

    ports: Ports = field(default_factory=Ports.from_env)
    brokers: int = 1
    """Kafka brokers; with 3, each bootstrap lists every broker's address of that path."""

    def _bootstrap(self, port: int) -> str:
        return ",".join(f"{HOST}:{port + BROKER_PORT_STRIDE * i}" for i in range(self.brokers))

    @property
    def producer_bootstrap(self) -> str:
        return self._bootstrap(self.ports.producer_kafka)

    @property
    def spark_bootstrap(self) -> str:
        return self._bootstrap(self.ports.spark_kafka)

    @property
    def direct_bootstrap(self) -> str:
        return self._bootstrap(self.ports.kafka_direct)

    @property
    def spark_mongo_uri(self) -> str:
        return f"mongodb://{HOST}:{self.ports.spark_mongo}/?directConnection=true"

    @property
    def dashboard_mongo_uri(self) -> str:
        return f"mongodb://{HOST}:{self.ports.dashboard_mongo}/?directConnection=true"

    @property
    def direct_mongo_uri(self) -> str:
        return f"mongodb://{HOST}:{self.ports.mongo}/?directConnection=true"

    @property
    def spark_master_url(self) -> str:
        return f"spark://{HOST}:{self.ports.spark_master}"

    @property
    def spark_master_ui(self) -> str:
        return f"http://{HOST}:{self.ports.spark_master_ui}"

    @property
    def toxiproxy_url(self) -> str:
        return f"http://{HOST}:{self.ports.toxiproxy_api}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{HOST}:{self.ports.dashboard}"
