"""The simulated IoT fleet and its Kafka producer (``iotbench produce``).

See ``devices`` (signals and injected anomalies), ``schedule`` (open-loop rate control),
``ledger`` (one Parquet row per event, with the truth) and ``producer`` (``Producer``).
"""

from system.producer.errors import ProducerError

__all__ = ["ProducerError"]
