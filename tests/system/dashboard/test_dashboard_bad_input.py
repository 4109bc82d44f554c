"""Bad input gets a 4xx with a JSON message that names the problem; never a 500."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

CASES = [
    # (url, status, words the message must contain)
    ("/api/temperature/thermostat-99", 404, ["'thermostat-99'", "not found"]),
    ("/api/temperature/motion-sensor-01", 400, ["motion", "only for thermostats"]),
    ("/api/temperature/Thermostat-01", 400, ["device_id", "malformed"]),
    ("/api/temperature/thermostat-1", 400, ["device_id", "malformed"]),
    ("/api/temperature/thermostat", 400, ["device_id", "malformed"]),
    ("/api/temperature/" + "a" * 80 + "-01", 400, ["device_id", "malformed"]),
    ("/api/temperature/thermostat-01%24ne", 400, ["device_id", "'$'"]),
    ("/api/temperature/%7B%22%24gt%22%3A%22%22%7D", 400, ["device_id", "Mongo operators"]),
    ("/api/data?limit=0", 400, ["'limit'", "1 to 1000"]),
    ("/api/data?limit=1001", 400, ["'limit'", "1 to 1000"]),
    ("/api/data?limit=-5", 400, ["'limit'", "1 to 1000"]),
    ("/api/data?limit=ten", 400, ["'limit'", "integer"]),
    ("/api/data?limit=2.5", 400, ["'limit'", "integer"]),
    ("/api/data?limit=", 400, ["'limit'", "integer"]),
    ("/api/data?limit=99999999999999999999", 400, ["'limit'", "integer"]),
    ("/api/data?limit=5&limit=6", 400, ["'limit'", "once"]),
    ("/api/data?device_id=thermostat-01", 400, ["'device_id'", "allowed here: 'limit'"]),
    ("/api/data?limit[$gt]=0", 400, ["'limit[$gt]'", "Mongo operators"]),
    ("/api/data?%24where=1", 400, ["'$where'", "Mongo operators"]),
    ("/api/anomalies?limit=%7B%22%24gt%22%3A0%7D", 400, ["'limit'", "Mongo operators"]),
    ("/api/anomalies?limit=[1]", 400, ["'limit'", "Mongo operators"]),
    ("/api/anomalies?limit=0", 400, ["'limit'", "1 to 1000"]),
    ("/api/stats?total=1", 400, ["'total'", "allowed here: none"]),
    ("/api/stats?x=%24ne", 400, ["'x'", "Mongo operators"]),
    ("/api/temperature/thermostat-01?limit=0", 400, ["'limit'", "1 to 1000"]),
    ("/api/temperature/thermostat-01?since=1", 400, ["'since'", "'limit'"]),
    ("/api/chart-data?points=0", 400, ["'points'", "1 to 500"]),
    ("/api/chart-data?devices=51", 400, ["'devices'", "1 to 50"]),
    ("/api/chart-data?points=%24gt", 400, ["'points'", "Mongo operators"]),
    ("/api/chart-data?limit=5", 400, ["'limit'", "'points', 'devices'"]),
    ("/api/no-such-endpoint", 404, ["/api/no-such-endpoint", "openapi.json"]),
]


@pytest.mark.parametrize(("url", "status", "words"), CASES, ids=[c[0][:60] for c in CASES])
def test_bad_input_gets_a_json_4xx(
    client: FlaskClient, url: str, status: int, words: list[str]
) -> None:
    response = client.get(url)

    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert body["status"] == status
    for word in words:
        assert word in body["error"]


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_writes_are_not_allowed(client: FlaskClient, method: str) -> None:
    response = getattr(client, method)("/api/stats")

    assert response.status_code == 405
    assert "allowed: GET" in response.get_json()["error"]
