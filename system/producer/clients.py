"""Kafka clients behind one small interface: kafka-python (default) and, only when the
``confluent_kafka`` package imports, confluent-kafka (librdkafka).

A client is built with two callbacks, ``on_ack(token, partition, offset)`` and
``on_error(token, reason)``, called from the client's I/O thread (kafka-python) or from
``poll()`` (confluent-kafka). With ``acks="0"`` no broker answers: both clients report the
offset as ``NO_OFFSET`` (-1), whatever placeholder the library made up (kafka-python 3
synthesises base offset 0, so its "offsets" 0, 1, 2… would pass for real ones).
``send()`` raises ``ProducerError`` when a record cannot even be queued (no metadata,
buffer full past ``max_block_ms``).
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from system.producer.errors import ProducerError

OnAck = Callable[[int, int, int], None]
OnError = Callable[[int, str], None]
CLIENTS = ("kafka-python", "confluent-kafka")
ACKS = ("0", "1", "all")
NO_OFFSET = -1
"""The offset of a record acknowledged without a broker's answer (acks=0)."""


@dataclass(frozen=True)
class ClientSettings:
    bootstrap: str
    topic: str
    delivery_timeout_ms: int = 120_000
    linger_ms: int = 5
    batch_size: int = 128 * 1024
    compression: str | None = "auto"
    """``"auto"``: lz4 when its Python package imports, else none."""
    max_in_flight: int = 5
    max_block_ms: int = 10_000
    request_timeout_ms: int = 10_000
    client: str = "kafka-python"
    acks: str = "all"
    """``"0"``: fire and forget (the client "acks" at once; kafka-python reports offset -1);
    ``"1"``: the partition leader wrote it; ``"all"``: every in-sync replica did."""
    idempotence: bool = True
    """The broker drops a retried batch it already appended (no Kafka duplicates from
    producer retries); needs ``acks="all"``."""

    def validate(self) -> None:
        if self.acks not in ACKS:
            raise ProducerError(f"acks must be one of {', '.join(ACKS)}, got {self.acks!r}")
        if self.idempotence and self.acks != "all":
            raise ProducerError(f"idempotence true requires acks all (got acks {self.acks}); "
                                "set acks to all or idempotence to false")

    @property
    def acks_value(self) -> int | str:
        """``acks`` as the clients take it: 0, 1 or "all"."""
        return self.acks if self.acks == "all" else int(self.acks)


def lz4_available() -> bool:
    return importlib.util.find_spec("lz4") is not None


def confluent_available() -> bool:
    return importlib.util.find_spec("confluent_kafka") is not None


def _compression(settings: ClientSettings) -> str | None:
    if settings.compression == "auto":
        return "lz4" if lz4_available() else None
    return settings.compression


class KafkaClient(Protocol):
    def send(self, token: int, key: bytes, value: bytes) -> None: ...
    def poll(self) -> None: ...
    def flush(self, timeout_s: float) -> None: ...
    def close(self, timeout_s: float) -> None: ...


class KafkaPythonClient:
    def __init__(self, settings: ClientSettings, on_ack: OnAck, on_error: OnError) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        settings.validate()
        self._kafka_error = KafkaError
        self.topic = settings.topic
        self._broker_answers = settings.acks != "0"
        self._on_ack = on_ack
        self._on_error = on_error
        # request_timeout must stay below delivery_timeout (kafka-python checks it).
        request_timeout = min(settings.request_timeout_ms,
                              max(1000, settings.delivery_timeout_ms - settings.linger_ms - 1))
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=settings.bootstrap, acks=settings.acks_value,
                enable_idempotence=settings.idempotence,
                linger_ms=settings.linger_ms, batch_size=settings.batch_size,
                compression_type=_compression(settings), retries=2**31 - 1,
                delivery_timeout_ms=settings.delivery_timeout_ms,
                request_timeout_ms=request_timeout,
                max_in_flight_requests_per_connection=settings.max_in_flight,
                max_block_ms=settings.max_block_ms, client_id="iotbench-producer")
            # Fetch the topic's metadata now, so the first timed send does not wait for it.
            self._producer.partitions_for(settings.topic)
        except KafkaError as exc:
            raise ProducerError(f"kafka-python cannot start against {settings.bootstrap}: "
                                f"{type(exc).__name__}: {exc}") from exc

    def _acked(self, token: int, metadata: Any) -> None:
        # With acks=0 the future resolves once the request is written to the socket.
        self._on_ack(token, metadata.partition,
                     metadata.offset if self._broker_answers else NO_OFFSET)

    def _failed(self, token: int, exc: BaseException) -> None:
        self._on_error(token, f"{type(exc).__name__}: {exc}")

    def send(self, token: int, key: bytes, value: bytes) -> None:
        try:
            future = self._producer.send(self.topic, value=value, key=key)
        except self._kafka_error as exc:
            raise ProducerError(f"send failed: {type(exc).__name__}: {exc}") from exc
        future.add_callback(self._acked, token)
        future.add_errback(self._failed, token)

    def poll(self) -> None:
        """kafka-python delivers callbacks from its own thread."""

    def flush(self, timeout_s: float) -> None:
        # what is still in flight is recorded as unacked by the ledger
        with contextlib.suppress(self._kafka_error):
            self._producer.flush(timeout=max(0.0, timeout_s))

    def close(self, timeout_s: float) -> None:
        with contextlib.suppress(self._kafka_error):
            self._producer.close(timeout=max(0.0, timeout_s))


class ConfluentClient:
    def __init__(self, settings: ClientSettings, on_ack: OnAck, on_error: OnError) -> None:
        try:
            import confluent_kafka
        except ImportError as exc:
            raise ProducerError("client 'confluent-kafka' needs the confluent_kafka package, "
                                "which is not installed") from exc
        settings.validate()
        self._module = confluent_kafka
        self.topic = settings.topic
        self._broker_answers = settings.acks != "0"
        self._on_ack = on_ack
        self._on_error = on_error
        config: dict[str, Any] = {
            "bootstrap.servers": settings.bootstrap, "acks": str(settings.acks_value),
            "enable.idempotence": settings.idempotence, "linger.ms": settings.linger_ms,
            "batch.size": settings.batch_size,
            # librdkafka ships lz4 itself, so "auto" means lz4 here.
            "compression.type": ("lz4" if settings.compression == "auto"
                                 else settings.compression or "none"),
            "delivery.timeout.ms": settings.delivery_timeout_ms,
            "max.in.flight.requests.per.connection": settings.max_in_flight,
            "client.id": "iotbench-producer",
        }
        try:
            self._producer = confluent_kafka.Producer(config)
            self._producer.list_topics(settings.topic, timeout=settings.max_block_ms / 1000)
        except confluent_kafka.KafkaException as exc:
            raise ProducerError(f"confluent-kafka cannot start against {settings.bootstrap}: "
                                f"{exc}") from exc
        self._max_block_s = settings.max_block_ms / 1000

    def _delivered(self, token: int, err: Any, message: Any) -> None:
        if err is not None:
            self._on_error(token, str(err))
        else:
            # librdkafka reports -1001 (OFFSET_INVALID) under acks=0
            self._on_ack(token, message.partition(),
                         message.offset() if self._broker_answers else NO_OFFSET)

    def send(self, token: int, key: bytes, value: bytes) -> None:
        def report(err: Any, message: Any) -> None:
            self._delivered(token, err, message)

        try:
            self._producer.produce(self.topic, value=value, key=key, on_delivery=report)
        except BufferError:
            self._producer.poll(self._max_block_s)  # queue full: wait for room once
            try:
                self._producer.produce(self.topic, value=value, key=key, on_delivery=report)
            except (BufferError, self._module.KafkaException) as exc:
                raise ProducerError(f"send failed: {exc}") from exc
        except self._module.KafkaException as exc:
            raise ProducerError(f"send failed: {exc}") from exc
        self._producer.poll(0)

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self, timeout_s: float) -> None:
        self._producer.flush(max(0.0, timeout_s))

    def close(self, timeout_s: float) -> None:
        self._producer.flush(max(0.0, timeout_s))


def make_client(settings: ClientSettings, on_ack: OnAck, on_error: OnError) -> KafkaClient:
    if settings.client == "kafka-python":
        return KafkaPythonClient(settings, on_ack, on_error)
    if settings.client == "confluent-kafka":
        return ConfluentClient(settings, on_ack, on_error)
    raise ProducerError(f"unknown client {settings.client!r}; choose one of {CLIENTS}")
