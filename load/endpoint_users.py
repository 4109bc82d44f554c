"""Closed-loop users, one class per endpoint, for the API benchmark (benchmarks/api_load.py).

Each class hammers one endpoint with no think time, and Locust spreads the users evenly over
the classes, so an endpoint's requests/s is (its users) / (its latency): a slow endpoint shows
up as fewer requests/s than ``/api/noop`` on the same server in the same run.
"""

from __future__ import annotations

import os

from locust import HttpUser, between, constant, task

from load import checks
from load.calls import get_json


def _wait_time(mean_s: float):  # noqa: ANN202 - a Locust wait_time callable
    """No think time, or ``mean_s`` ± 50 % so that users spawned together drift apart."""
    return between(0.5 * mean_s, 1.5 * mean_s) if mean_s > 0 else constant(0)


class _EndpointUser(HttpUser):
    abstract = True
    wait_time = _wait_time(float(os.environ.get("IOTBENCH_ENDPOINT_WAIT_S") or 0))
    path = "/api/noop"
    check = staticmethod(checks.noop)

    @task
    def hit(self) -> None:
        get_json(self.client, self.path, self.path, self.check)


class StatsUser(_EndpointUser):
    path = "/api/stats"
    check = staticmethod(checks.stats)


class ChartDataUser(_EndpointUser):
    path = "/api/chart-data"
    check = staticmethod(checks.chart_data)


class DataUser(_EndpointUser):
    path = "/api/data"
    check = staticmethod(checks.records)


class NoopUser(_EndpointUser):
    path = "/api/noop"
    check = staticmethod(checks.noop)
