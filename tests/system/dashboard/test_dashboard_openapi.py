"""The OpenAPI document describes every route the app serves."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_lists_every_route(app: Flask, client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()

    routes = {openapi_path(rule.rule) for rule in app.url_map.iter_rules()}
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == routes


def test_openapi_documents_parameters_and_responses(client: FlaskClient) -> None:
    document = client.get("/api/openapi.json").get_json()
    paths = document["paths"]

    limit = paths["/api/data"]["get"]["parameters"][0]
    assert (limit["name"], limit["schema"]["minimum"], limit["schema"]["maximum"]) == (
        "limit",
        1,
        1000,
    )
    temperature = paths["/api/temperature/{device_id}"]["get"]
    assert {p["name"] for p in temperature["parameters"]} == {"device_id", "limit"}
    assert {"200", "400", "404", "503"} <= set(temperature["responses"])
    for ref in re.findall(
        r'"\$ref": "#/components/schemas/(\w+)"', str(document).replace("'", '"')
    ):
        assert ref in document["components"]["schemas"]
    stats_schema = document["components"]["schemas"]["Stats"]
    assert {"total", "anomalies", "avg_temperature", "device_count"} <= set(
        stats_schema["required"]
    )
