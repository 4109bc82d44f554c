"""InfluxDB over plain HTTP: line-protocol writes (1.x ``/write`` or 2.x ``/api/v2/write``)
and the one query the bridge needs to resume."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from system.bridge.lines import MEASUREMENT


class InfluxError(RuntimeError):
    """InfluxDB refused a request or did not answer."""


@dataclass(frozen=True)
class Influx:
    """Where to write. With ``token`` the 2.x API is used (org + bucket), else the 1.x API
    (database, optional user/password)."""

    url: str
    database: str = "iot"
    username: str | None = None
    password: str | None = None
    token: str | None = None
    org: str | None = None
    bucket: str | None = None
    timeout_s: float = 15.0

    @property
    def api(self) -> str:
        return "v2" if self.token else "v1"

    def _headers(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Token {self.token}"}
        if self.username:
            raw = f"{self.username}:{self.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    def _request(self, method: str, path: str, params: dict[str, str],
                 body: bytes | None = None) -> tuple[int, bytes]:
        url = f"{self.url.rstrip('/')}{path}?{urllib.parse.urlencode(params)}"
        headers = self._headers()
        if body is not None:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip()
            raise InfluxError(f"InfluxDB {method} {path} answered {exc.code}: {detail}"
                              + _hint(exc.code)) from exc
        except (OSError, urllib.error.URLError) as exc:
            raise InfluxError(f"InfluxDB at {self.url} did not answer {method} {path}: "
                              f"{exc}") from exc

    def write(self, lines: list[str], chunk: int = 5000) -> int:
        """POST the lines (nanosecond timestamps) in chunks; returns how many were sent."""
        if self.api == "v2":
            if not (self.org and self.bucket):
                raise InfluxError("InfluxDB 2.x writes need --org and --bucket")
            path, params = "/api/v2/write", {"org": self.org, "bucket": self.bucket,
                                             "precision": "ns"}
        else:
            path, params = "/write", {"db": self.database, "precision": "ns"}
        for start in range(0, len(lines), chunk):
            body = "\n".join(lines[start:start + chunk]).encode()
            status, _ = self._request("POST", path, params, body)
            if status != 204:
                raise InfluxError(f"InfluxDB POST {path} answered {status}, expected 204")
        return len(lines)

    def query(self, q: str) -> list[dict[str, Any]]:
        """An InfluxQL query on the 1.x API; returns the first statement's series."""
        _, body = self._request("GET", "/query", {"db": self.database, "q": q})
        result = json.loads(body or b"{}").get("results", [{}])[0]
        if "error" in result:
            raise InfluxError(f"InfluxQL {q!r} failed: {result['error']}")
        return result.get("series", [])

    def newest_stored_ms(self) -> int | None:
        """The newest ``stored_ms`` already copied (1.x only; 2.x starts from the beginning,
        which is safe because writes are idempotent)."""
        if self.api == "v2":
            return None
        series = self.query(f'SELECT max("stored_ms") FROM "{MEASUREMENT}"')
        if not series or not series[0].get("values"):
            return None
        value = series[0]["values"][0][1]
        return int(value) if value is not None else None


def _hint(code: int) -> str:
    if code in (401, 403):
        return ("\nHint: check INFLUX_USERNAME/INFLUX_PASSWORD (1.x) or INFLUX_TOKEN (2.x); "
                "the user needs write access to the database.")
    if code == 404:
        return "\nHint: does the database (1.x) or bucket (2.x) exist?"
    return ""
