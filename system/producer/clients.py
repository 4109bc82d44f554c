"""Kafka clients behind one small interface: kafka-python (default) and, only when the
``confluent_kafka`` package imports, confluent-kafka (librdkafka).

A client is built with two callbacks, ``on_ack(token, partition, offset)`` and
``on_error(token, reason)``, called from the client's I/O thread (kafka-python) or from
a poll thread of ours (confluent-kafka: librdkafka runs callbacks only in ``poll()``).
With ``acks="0"`` no broker answers: both clients report the
offset as ``NO_OFFSET`` (-1), whatever placeholder the library made up (kafka-python 3
synthesises base offset 0, so its "offsets" 0, 1, 2… would pass for real ones).
``send()`` raises ``ProducerError`` when a record cannot even be queued (no metadata,
buffer full past ``max_block_ms``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from system.producer.errors import ProducerError
from system.producer.schedule import pause

OnAck = Callable[[int, int, int], None]
OnError = Callable[[int, str], None]
CLIENTS = ("kafka-python", "confluent-kafka")
DEFAULT_CLIENT = "confluent-kafka"
"""By measurement: on our 2-core machine the producer shares the cores with the pipeline it
loads, and at 1,500 events/s kafka-python used 0.52 CPU s per 1,000 events (77 % of a core)
against confluent-kafka's 0.25 (38 %); their ceilings, 3,778 and 13,124 events/s
(``python -m benchmarks.producer_ceiling --client both``,
``benchmarks/results/producer-clients.json``). kafka-python stays supported and tested."""
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
    client: str = DEFAULT_CLIENT
    acks: str = "all"
    """``"0"``: fire and forget (the client "acks" at once; kafka-python reports offset -1);
    ``"1"``: the partition leader wrote it; ``"all"``: every in-sync replica did."""
    idempotence: bool = True
    """The broker drops a retried batch it already appended (no Kafka duplicates from
    producer retries); needs ``acks="all"``."""
    sync_send: bool = False
    """Wait for each record's acknowledgement before sending the next (the naive design:
    one request per record); the ledger is the same either way."""

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
    """confluent-kafka (librdkafka): the same ledger, acks and timeouts as kafka-python.

    librdkafka sends from its own threads but runs delivery callbacks only inside
    ``poll()``/``flush()``, and ``ack_ts`` is stamped in the callback, so who polls when
    decides how honest the ack latency is. Two pollers, each covering the other's gap:

    - a poll thread blocked in ``poll()``, woken as soon as a delivery report is queued:
      the sender sleeps between sends when ahead of schedule, so with ``poll(0)`` after
      each send alone an ack would wait for the *next* send (measured at 20 ev/s: ack
      p50 50 ms = the inter-send gap, vs 6.5 ms with the thread);
    - ``poll(0)`` after each ``produce``: a sender that never sleeps (saturated) holds the
      GIL, and the thread then waits for it to run each callback (measured flat out: ack
      p50 1.7 s with the thread alone, 4 ms with both).
    """

    POLL_WAIT_S = 0.1
    """How long the poll thread blocks per call; it wakes earlier for any report."""
    FLUSH_STEP_S = 0.2
    """``flush`` waits in steps this long, so a second SIGINT is handled in between."""

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
        self._closing = False
        self._max_block_s = settings.max_block_ms / 1000
        self._idempotence = settings.idempotence
        self._ready = threading.Event()
        self._producer = self._connect(confluent_kafka, settings)
        self._stop_polling = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, daemon=True,
                                        name="iotbench-confluent-poll")
        self._poller.start()

    @staticmethod
    def _config(settings: ClientSettings) -> dict[str, Any]:
        # As for kafka-python: the request timeout stays below the delivery timeout.
        request_timeout = min(settings.request_timeout_ms,
                              max(1000, settings.delivery_timeout_ms - settings.linger_ms - 1))
        return {
            "bootstrap.servers": settings.bootstrap, "acks": str(settings.acks_value),
            "enable.idempotence": settings.idempotence, "linger.ms": settings.linger_ms,
            "batch.size": settings.batch_size,
            # librdkafka ships lz4 itself, but "auto" keeps kafka-python's rule (lz4 only
            # when the lz4 Python package imports): the topic's Python readers (kafka-python
            # consumers) cannot decompress lz4 batches without that package.
            "compression.type": _compression(settings) or "none",
            # librdkafka's name for the delivery timeout is message.timeout.ms.
            "delivery.timeout.ms": settings.delivery_timeout_ms,
            "request.timeout.ms": request_timeout,
            "retries": 2**31 - 1,
            "max.in.flight.requests.per.connection": settings.max_in_flight,
            # Bound the local queue by bytes like kafka-python's 32 MB buffer_memory, not by
            # librdkafka's default 100 k messages (a count kafka-python does not have).
            "queue.buffering.max.kbytes": 32 * 1024,
            "queue.buffering.max.messages": 10_000_000,
            "client.id": "iotbench-producer",
            "statistics.interval.ms": 100,  # tells _wait_for_producer_id the id came
            # librdkafka's own log lines (connection refused during an outage, …) go to
            # Python logging, like kafka-python's, not straight to stderr.
            "logger": logging.getLogger("iotbench.producer.librdkafka"),
        }

    def _connect(self, module: Any, settings: ClientSettings) -> Any:
        """The producer, once the topic's partitions are known (as kafka-python's start):
        the first timed send must not wait for metadata, and a missing topic (the broker
        does not auto-create) fails here after max_block_ms, not as N unacked rows."""
        deadline = time.monotonic() + self._max_block_s
        producer = module.Producer({**self._config(settings), "stats_cb": self._stats})
        problem = "no answer"
        while True:
            try:
                remaining = max(0.1, deadline - time.monotonic())
                topic = producer.list_topics(settings.topic, timeout=remaining).topics.get(
                    settings.topic)
                if topic is not None and topic.error is None and topic.partitions:
                    self._wait_for_producer_id(producer, deadline)
                    return producer
                problem = (f"topic {settings.topic!r}: "
                           f"{topic.error.str() if topic and topic.error else 'no partitions'}")
            except module.KafkaException as exc:
                problem = exc.args[0].str() if exc.args else str(exc)
            if time.monotonic() >= deadline:
                producer.purge()
                raise ProducerError(f"confluent-kafka cannot start against "
                                    f"{settings.bootstrap}: {problem} after "
                                    f"{self._max_block_s:g} s")
            pause(0.2)

    def _stats(self, stats_json: str) -> None:
        if not self._ready.is_set() and '"idemp_state":"Assigned"' in stats_json.replace(
                " ", ""):
            self._ready.set()

    def _wait_for_producer_id(self, producer: Any, deadline: float) -> None:
        """An idempotent producer sends nothing before the broker gave it a producer id;
        librdkafka retries that every 500 ms, so without this wait the first half second
        of sends sometimes (1 start in 4 here) waits for it. Past ``deadline`` sending
        starts anyway: the delay is then the client's real behaviour, recorded as such."""
        if not self._idempotence:
            return
        while not self._ready.is_set() and time.monotonic() < deadline:
            producer.poll(0.02)

    def _poll_loop(self) -> None:
        while not self._stop_polling.is_set():
            self._producer.poll(self.POLL_WAIT_S)

    def _delivered(self, token: int, err: Any, message: Any) -> None:
        if self._closing:
            return  # after close the ledger records what is left as unacked
        if err is not None:
            self._on_error(token, f"{err.name()}: {err.str()}")
        else:
            # librdkafka reports -1001 (OFFSET_INVALID) under acks=0
            self._on_ack(token, message.partition(),
                         message.offset() if self._broker_answers else NO_OFFSET)

    def send(self, token: int, key: bytes, value: bytes) -> None:
        report = functools.partial(self._delivered, token)
        deadline: float | None = None
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key, on_delivery=report)
                self._producer.poll(0)  # serve due reports here, see the class docstring
                return
            except BufferError as exc:
                # The local queue is full: wait for deliveries to make room, at most
                # max_block_ms in all, as kafka-python's send() blocks.
                now = time.monotonic()
                deadline = deadline if deadline is not None else now + self._max_block_s
                if now >= deadline:
                    raise ProducerError(f"send failed: the local queue stayed full for "
                                        f"{self._max_block_s:g} s (max_block_ms): {exc}"
                                        ) from exc
                self._producer.poll(min(0.05, deadline - now))
            except self._module.KafkaException as exc:
                raise ProducerError(f"send failed: {exc.args[0].str() if exc.args else exc}"
                                    ) from exc

    def poll(self) -> None:
        self._producer.poll(0)

    def flush(self, timeout_s: float) -> None:
        # what is still queued at the deadline is recorded as unacked by the ledger
        deadline = time.monotonic() + max(0.0, timeout_s)
        while self._producer.flush(min(self.FLUSH_STEP_S,
                                       max(0.0, deadline - time.monotonic()))) > 0:
            if time.monotonic() >= deadline:
                return

    def close(self, timeout_s: float) -> None:
        self.flush(timeout_s)
        self._stop_polling.set()
        self._poller.join()
        # Drop what is left, so closing does not wait for it; their late reports are
        # ignored and the ledger records those rows as unacked.
        self._closing = True
        self._producer.purge(in_queue=True, in_flight=True, blocking=True)
        self._producer.flush(0)
        self._producer.close()


def make_client(settings: ClientSettings, on_ack: OnAck, on_error: OnError) -> KafkaClient:
    if settings.client == "kafka-python":
        return KafkaPythonClient(settings, on_ack, on_error)
    if settings.client == "confluent-kafka":
        return ConfluentClient(settings, on_ack, on_error)
    raise ProducerError(f"unknown client {settings.client!r}; choose one of {CLIENTS}")
