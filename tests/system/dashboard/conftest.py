"""Fixtures for the dashboard tests: a real FerretDB on a free port, on each backend the stack
runs (SQLite files; a private PostgreSQL cluster), filled with events that follow the
processor's data contract."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from system.config import cache_dir
from system.dashboard import create_app
from system.processor import views
from system.stack import postgres
from tests.system.stack.wire_servers import serve

PREFERRED_PORT = 37117
FERRETDB_ENV = "IOTBENCH_FERRETDB_BIN"
THERMOSTATS = ("thermostat-01", "thermostat-02", "thermostat-03")
MOTION_SENSORS = ("motion-sensor-01", "motion-sensor-02")
EVENT_COUNT = 360
BASE_TIME = datetime(2025, 10, 16, 16, 0, 0, tzinfo=timezone.utc)


def ferretdb_binary() -> Path:
    path = Path(os.environ.get(FERRETDB_ENV) or cache_dir() / "bin" / "iotbench-ferretdb")
    if not path.is_file():
        pytest.skip(
            f"FerretDB binary not found at {path}: run `iotbench setup` (or set {FERRETDB_ENV})"
        )
    return path


def free_port(preferred: int | None = None) -> int:
    candidates = [preferred] if preferred else []
    for port in candidates + [0]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port on 127.0.0.1")


class FerretServer:
    """One iotbench-ferretdb process; ready once it answers `ping`."""

    def __init__(self, binary: Path, data_dir: Path, port: int) -> None:
        self.binary, self.data_dir, self.port = binary, data_dir, port
        self.uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        self.log_path = data_dir.parent / f"ferretdb-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = self.log_path.open("ab")
        command = [
            str(self.binary),
            "-listen-addr",
            f"127.0.0.1:{self.port}",
            "-sqlite-dir",
            str(self.data_dir),
            "-log-level",
            "warn",
        ]
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        with MongoClient(self.uri, serverSelectionTimeoutMS=250, connectTimeoutMS=250) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    time.sleep(0.2)
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])
        self.stop()
        raise RuntimeError(
            f"FerretDB did not answer ping on 127.0.0.1:{self.port} within {timeout:.0f} s "
            f"(process exit code {self.process.poll()}); last log lines:\n{tail}\n"
            "Hint: is the port taken, or the binary built for another platform?"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def make_events(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Events as the processor stores them, one second apart, devices interleaved."""
    devices = THERMOSTATS + MOTION_SENSORS
    seqs = dict.fromkeys(devices, 0)
    events = []
    for i in range(count):
        device_id = rng.choice(devices)
        seqs[device_id] += 1
        event_time = BASE_TIME + timedelta(seconds=i, microseconds=rng.randrange(1000) * 1000)
        stored = event_time + timedelta(milliseconds=300)
        event_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        doc: dict[str, Any] = {
            "_id": event_id,
            "event_id": event_id,
            "device_id": device_id,
            "seq": seqs[device_id],
            "timestamp": event_time.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
            "event_time": event_time,
            "detector": "threshold",
            "anomaly_score": None,
            "kafka_partition": 0,
            "kafka_offset": i,
            "kafka_ts": event_time + timedelta(milliseconds=5),
            "processing_start": stored - timedelta(milliseconds=100),
            "written_at": stored,
        }
        if device_id.startswith("thermostat"):
            spike = rng.random() < 0.1
            temperature = round(rng.uniform(36, 45) if spike else rng.gauss(22, 2.5), 2)
            doc.update(
                device_type="thermostat",
                temperature_celsius=temperature,
                humidity_percent=round(rng.uniform(30, 60), 2),
                is_anomaly=temperature > 35.0,
            )
        else:
            doc.update(
                device_type="motion",
                motion_detected=rng.random() < 0.3,
                camera_status=rng.choice(["online", "online", "online", "offline"]),
                is_anomaly=False,
            )
        events.append(doc)
    return events


def device_stats_for(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the processor keeps per device, from the events it inserted."""
    stats: dict[str, dict[str, Any]] = {}
    views.add_device_stats(stats, events)
    return list(stats.values())


def fill(db: Database, events: list[dict[str, Any]]) -> None:
    db.processed_data.insert_many(events)
    db.device_stats.insert_many(device_stats_for(events))
    db.recent_events.insert_many(views.documents_for(events))
    db.dead_letter.insert_many(
        [
            {
                "raw": "{not json",
                "reason": "invalid JSON",
                "kafka_partition": 0,
                "kafka_offset": 10_000 + i,
                "kafka_ts": BASE_TIME,
                "written_at": BASE_TIME,
            }
            for i in range(3)
        ]
    )


@dataclass(frozen=True)
class WireServer:
    """A Mongo-wire server the dashboard tests read: its URI and the backend behind it."""

    uri: str
    backend: str


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def ferret_server(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[WireServer]:
    """The dashboard's API is checked on each FerretDB backend the stack can run."""
    if request.param == "sqlite":
        server = FerretServer(ferretdb_binary(), tmp_path_factory.mktemp("ferretdb") / "sqlite",
                              free_port(PREFERRED_PORT))
        server.start()
        yield WireServer(server.uri, "sqlite")
        server.stop()
        return
    if postgres.bindir() is None:
        pytest.skip(f"no PostgreSQL here. {postgres.INSTALL_HINT}")
    with serve("postgresql") as uri:
        yield WireServer(uri, "postgresql")


@pytest.fixture(scope="session")
def mongo(ferret_server: FerretServer) -> Iterator[MongoClient]:
    with MongoClient(ferret_server.uri, tz_aware=True, serverSelectionTimeoutMS=5000) as client:
        yield client


@pytest.fixture(scope="session")
def seeded_db(mongo: MongoClient) -> Database:
    db = mongo["iot_db"]
    fill(db, make_events(random.Random(20251016), EVENT_COUNT))
    return db


@pytest.fixture
def app(ferret_server: WireServer, seeded_db: Database) -> Flask:
    return create_app({"MONGO_URI": ferret_server.uri, "STATS_CACHE_SECONDS": 0, "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parents[3] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def spare_ferret(tmp_path: Path) -> Iterator[FerretServer]:
    """A FerretDB of the test's own, which the test may stop."""
    server = FerretServer(ferretdb_binary(), tmp_path / "sqlite", free_port())
    server.start()
    yield server
    server.stop()


def chromium_binary() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def fill_db() -> Any:
    """fill(db, events) and make_events(rng, n), for tests that build their own database."""
    return fill, make_events
