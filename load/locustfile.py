"""Users of the dashboard, for ``locust -f load/locustfile.py --host http://127.0.0.1:5000``.

- ``DashboardUser`` (weight 3) opens the page, then polls what the page's script polls
  (``/api/stats``, ``/api/chart-data``, ``/api/data?limit=50``) every 15 s, as the seed's
  auto-refresh does. ``IOTBENCH_DASHBOARD_REFRESH_S`` shortens the period for tests.
- ``ApiClientUser`` (weight 1) asks for recent data, anomalies and one thermostat's temperature
  series (ids that exist, read once from ``/api/chart-data``), 1–3 s apart.

Every response is checked (status and JSON shape, ``load/checks.py``); request names are stable
(``/api/temperature/[device_id]``), so Locust's CSV has one row per endpoint.
``IOTBENCH_LOAD_SHAPE=steps|spike`` adds a load shape from ``load/shapes.py`` (env-configured).
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

from locust import HttpUser, between, constant, task

try:
    from load import checks
except ImportError:  # run by a Locust outside the project's venv: the repo root is our parent
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from load import checks
from load.calls import get_json, get_page
from load.shapes import SHAPE_ENV, SHAPES

REFRESH_ENV = "IOTBENCH_DASHBOARD_REFRESH_S"
PAGE_MARKER = "IoT Streaming Analytics"
"""Text of the page's <title>; a 200 without it is some other page."""
RECORDS_SHOWN = 50
"""The page's table asks for this many records (system/dashboard/static/dashboard.js)."""
DEVICE_RETRY_S = 10.0


def refresh_seconds() -> float:
    return float(os.environ.get(REFRESH_ENV) or 15)


class DashboardUser(HttpUser):
    """A browser with the dashboard open: the page, then the auto-refresh."""

    weight = 3
    wait_time = constant(refresh_seconds())
    """The seed page refreshes every 15 s (``IOTBENCH_DASHBOARD_REFRESH_S`` to change)."""

    def on_start(self) -> None:
        get_page(self.client, "/", "/", PAGE_MARKER)

    @task
    def refresh(self) -> None:
        get_json(self.client, "/api/stats", "/api/stats", checks.stats)
        get_json(self.client, "/api/chart-data", "/api/chart-data", checks.chart_data)
        get_json(self.client, f"/api/data?limit={RECORDS_SHOWN}", "/api/data", checks.records)


class ApiClientUser(HttpUser):
    """A script reading the JSON API."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.device_ids: list[str] = []
        self.fetched_at = 0.0
        self._fetch_devices()

    def _fetch_devices(self) -> None:
        self.fetched_at = time.monotonic()
        chart = get_json(self.client, "/api/chart-data", "/api/chart-data", checks.chart_data)
        self.device_ids = checks.thermostat_ids(chart)

    @task(3)
    def data(self) -> None:
        get_json(self.client, "/api/data", "/api/data", checks.records)

    @task(2)
    def anomalies(self) -> None:
        get_json(self.client, "/api/anomalies", "/api/anomalies", checks.anomalies)

    @task(3)
    def temperature(self) -> None:
        if not self.device_ids and time.monotonic() - self.fetched_at > DEVICE_RETRY_S:
            self._fetch_devices()  # no thermostat stored yet at start; look again now and then
        if not self.device_ids:
            return
        device_id = random.choice(self.device_ids)
        get_json(self.client, f"/api/temperature/{device_id}", "/api/temperature/[device_id]",
                 checks.temperature(device_id))


if os.environ.get(SHAPE_ENV) in SHAPES:
    # Locust runs the one LoadTestShape it finds in this module; its settings come from env.
    LoadShape = SHAPES[os.environ[SHAPE_ENV]]
