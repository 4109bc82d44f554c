"""The Mongo → InfluxDB bridge against real servers: InfluxDB 1.x (Debian's ``influxdb``
package, started by the test with HTTP auth on) and FerretDB (``iotbench setup``), seeded
with processed events that follow the processor's contract."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import stack_docker_support as sds
from pymongo import MongoClient

from system.bridge import lines
from system.bridge.copy import Bridge
from system.bridge.influx import Influx

EVENTS = 360
_names = count(1)


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sds.InfluxServer]:
    binary = sds.influxd_binary()
    if binary is None:
        pytest.skip("influxd not on PATH: install Debian's InfluxDB 1.x "
                    "(`apt-get install -y influxdb`)")
    server = sds.InfluxServer(binary, tmp_path_factory.mktemp("influxdb"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fixtures() -> Any:
    return sds.dashboard_fixtures()


@pytest.fixture(scope="module")
def ferret(fixtures: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    data = tmp_path_factory.mktemp("ferretdb")
    server = fixtures.FerretServer(fixtures.ferretdb_binary(), data, sds.free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def setup(influx: sds.InfluxServer, ferret: Any, fixtures: Any) -> dict[str, Any]:
    """A fresh Mongo database seeded with EVENTS events and a fresh InfluxDB database with a
    write user, per test."""
    n = next(_names)
    mongo_db, influx_db = f"bridge_{n}", f"iot_{n}"
    events = fixtures.make_events(random.Random(100 + n), EVENTS)
    with MongoClient(ferret.uri) as client:
        client[mongo_db].processed_data.insert_many([dict(e) for e in events])
    user, password = influx.database_with_writer(influx_db)
    return {"mongo_db": mongo_db, "influx_db": influx_db, "user": user, "password": password,
            "events": events}


def run_bridge(ferret: Any, influx: sds.InfluxServer, s: dict[str, Any], *args: str,
               password: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INFLUX_USERNAME": s["user"],
           "INFLUX_PASSWORD": password or s["password"]}
    command = [sys.executable, "-m", "system.bridge", "--mongo-uri", ferret.uri,
               "--mongo-database", s["mongo_db"], "--influx-url", influx.url,
               "--database", s["influx_db"], "--interval", "0.2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env,
                          cwd=sds.ROOT)


def scalar(influx: sds.InfluxServer, db: str, q: str) -> list[Any]:
    series = influx.query(q, db=db)
    return series[0]["values"][0][1:] if series else []


def counts(influx: sds.InfluxServer, db: str) -> tuple[int, int, int]:
    got = scalar(influx, db, f'SELECT count("seq"), sum("anomaly"), '
                             f'count("temperature_celsius") FROM "{lines.MEASUREMENT}"')
    return tuple(got) if got else (0, 0, 0)  # type: ignore[return-value]


def expected(events: list[dict[str, Any]]) -> tuple[int, int, int]:
    return (len(events), sum(bool(e["is_anomaly"]) for e in events),
            sum("temperature_celsius" in e for e in events))


def test_one_poll_copies_every_event_and_the_values_match(influx, ferret, setup) -> None:
    done = run_bridge(ferret, influx, setup, "--once")
    assert done.returncode == 0, done.stderr
    assert f"read {EVENTS} written {EVENTS} skipped 0" in done.stdout
    assert counts(influx, setup["influx_db"]) == expected(setup["events"])

    sample = next(e for e in setup["events"] if e["device_type"] == "thermostat")
    series = influx.query(f"SELECT * FROM \"{lines.MEASUREMENT}\" WHERE "
                          f"\"event_id\" = '{sample['event_id']}'", db=setup["influx_db"])
    row = dict(zip(series[0]["columns"], series[0]["values"][0], strict=True))
    assert row["device_id"] == sample["device_id"] and row["device_type"] == "thermostat"
    assert row["temperature_celsius"] == pytest.approx(sample["temperature_celsius"])
    assert row["humidity_percent"] == pytest.approx(sample["humidity_percent"])
    assert row["is_anomaly"] is sample["is_anomaly"] and row["seq"] == sample["seq"]
    assert row["latency_ms"] == pytest.approx(300.0)  # written_at − event_time in the fixture
    when = datetime.fromisoformat(row["time"].replace("Z", "+00:00")[:26] + "+00:00")
    assert abs(when - sample["event_time"]) < timedelta(milliseconds=1)

    motion = [e for e in setup["events"] if e["device_type"] == "motion"]
    got = scalar(influx, setup["influx_db"], f'SELECT count("motion_detected") FROM '
                 f'"{lines.MEASUREMENT}" WHERE "motion_detected" = true')
    assert got == [sum(e["motion_detected"] for e in motion)]


def test_copying_again_does_not_duplicate_points(influx, ferret, setup) -> None:
    for args in (["--once"], ["--once", "--no-resume"], ["--polls", "3"]):
        done = run_bridge(ferret, influx, setup, *args)
        assert done.returncode == 0, done.stderr
        assert counts(influx, setup["influx_db"]) == expected(setup["events"]), args


def test_later_events_are_picked_up_by_the_next_poll(influx, ferret, setup, fixtures) -> None:
    s = setup
    assert run_bridge(ferret, influx, s, "--once").returncode == 0
    later = fixtures.make_events(random.Random(999), 40)
    shift = timedelta(hours=1)
    for e in later:
        for key in ("event_time", "kafka_ts", "processing_start", "written_at"):
            e[key] += shift
    with MongoClient(ferret.uri) as client:
        client[s["mongo_db"]].processed_data.insert_many([dict(e) for e in later])
    done = run_bridge(ferret, influx, s, "--once")  # resumes from InfluxDB's newest point
    assert done.returncode == 0, done.stderr
    assert "resuming at stored_ms=" in done.stdout
    # the new events, plus the old ones inside the 10 s overlap behind the watermark
    newest = max(e["written_at"] for e in s["events"])
    overlap = sum(e["written_at"] >= newest - timedelta(seconds=10) for e in s["events"])
    assert 0 < overlap < EVENTS
    assert f"read {40 + overlap} written {40 + overlap}" in done.stdout
    assert counts(influx, s["influx_db"]) == expected([*s["events"], *later])


def test_the_watermark_advances_and_resume_reads_it_back(influx, ferret, setup) -> None:
    s = setup
    target = Influx(influx.url, s["influx_db"], s["user"], s["password"])
    with MongoClient(ferret.uri, tz_aware=True) as client:
        bridge = Bridge(client[s["mongo_db"]].processed_data, target, chunk=100)
        first = bridge.poll()
        newest = max(lines.epoch_ms(e["written_at"]) for e in s["events"])
        assert (first.read, first.written, first.watermark_ms) == (EVENTS, EVENTS, newest)
        second = bridge.poll()  # only the overlap behind the watermark is read again
        assert 0 < second.read < EVENTS
        fresh = Bridge(client[s["mongo_db"]].processed_data, target)
        assert fresh.resume() == newest
    assert counts(influx, s["influx_db"]) == expected(s["events"])


def test_a_refused_write_fails_clearly_and_copies_nothing(influx, ferret, setup) -> None:
    done = run_bridge(ferret, influx, setup, "--once", password="wrong")
    assert done.returncode == 1
    assert "401" in done.stderr and "Hint:" in done.stderr
    assert counts(influx, setup["influx_db"]) == (0, 0, 0)


# ---------------------------------------------------------------- line protocol (pure)


def event(**over: Any) -> dict[str, Any]:
    t = datetime(2025, 1, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
    base = {"event_id": "e1", "device_id": "thermostat-01", "device_type": "thermostat",
            "seq": 7, "event_time": t, "written_at": t + timedelta(milliseconds=250),
            "temperature_celsius": 21.5, "is_anomaly": False, "anomaly_score": None,
            "kafka_partition": 1, "kafka_offset": 42, "detector": "threshold"}
    return {**base, **over}


def test_line_protocol_escapes_tags_and_strings() -> None:
    text = lines.line(event(device_id="a b,c=d", camera_status='say "hi"\\'))
    assert text is not None
    assert text.startswith(r"iot_event,device_id=a\ b\,c\=d,device_type=thermostat ")
    assert r'camera_status="say \"hi\"\\"' in text
    assert "latency_ms=250.0" in text and "seq=7i" in text and "anomaly=0i" in text
    assert "anomaly_score" not in text  # None is left out, not written as a string


def test_point_identity_is_deterministic_and_unique_per_reading() -> None:
    a, b = event(seq=7), event(seq=8)  # same device, same millisecond
    assert lines.timestamp_ns(a) == lines.timestamp_ns(event(seq=7))
    assert lines.timestamp_ns(a) != lines.timestamp_ns(b)
    assert lines.timestamp_ns(a) // 1_000_000 == lines.epoch_ms(a["event_time"])
    naive = event(event_time=a["event_time"].replace(tzinfo=None))
    assert lines.timestamp_ns(naive) == lines.timestamp_ns(a)  # pymongo's naive = UTC


def test_events_without_device_or_time_are_skipped() -> None:
    assert lines.line(event(device_id=None)) is None
    assert lines.line(event(event_time="2025-01-01T00:00:00Z")) is None
    assert lines.line(event(temperature_celsius=float("nan"))) is not None
    assert "temperature_celsius" not in (lines.line(event(temperature_celsius=float("nan")))
                                         or "")


def test_influx_v2_requests_use_token_org_and_bucket() -> None:
    v2 = Influx("http://127.0.0.1:1", token="t0k", org="o", bucket="b")
    assert v2.api == "v2" and v2._headers() == {"Authorization": "Token t0k"}
    assert v2.newest_stored_ms() is None  # v2 starts over: writes are idempotent
    assert Influx("http://x", username="u", password="p")._headers()["Authorization"] \
        .startswith("Basic ")
    assert Path(lines.__file__).parent.name == "bridge"
