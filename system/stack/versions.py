"""Pinned versions of every native stack component, in one place."""

from __future__ import annotations

KAFKA = "4.1.1"
"""Apache Kafka broker (``org.apache.kafka:kafka_2.13``), KRaft mode, log4j2 logging."""
SCALA = "2.13"
LOG4J = "2.24.3"
"""Must match the log4j-api/log4j-core that kafka_2.13 brings; the slf4j 1.7 binding is added."""
TOXIPROXY = "v2.12.0"
FERRETDB = "v1.24.2"


def pyspark() -> str:
    """The installed pyspark; the Kafka connector is resolved at exactly this version."""
    import pyspark as _pyspark

    return _pyspark.__version__
