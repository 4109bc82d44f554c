"""One checked GET: status and body shape decide success, not just "an answer came back"."""

from __future__ import annotations

from typing import Any

from load.checks import Check

JSON_ACCEPT = {"Accept": "application/json"}


def _error_text(response: Any) -> str:
    if response.status_code == 0:  # no HTTP answer at all: refused, reset, timed out
        return f"no answer: {response.error!r:.120}"
    try:
        body = response.json()
    except ValueError:
        return (response.text or "")[:120]
    return str(body.get("error", body))[:120] if isinstance(body, dict) else str(body)[:120]


def get_json(client: Any, path: str, name: str, check: Check) -> Any:
    """GET ``path`` (Locust name ``name``); mark it failed unless 200 + JSON passing ``check``.

    Returns the decoded body when it passed, else ``None``.
    """
    with client.get(path, name=name, headers=JSON_ACCEPT, catch_response=True) as response:
        if response.status_code != 200:
            response.failure(f"HTTP {response.status_code} from {path}: {_error_text(response)}")
            return None
        try:
            body = response.json()
        except ValueError:
            response.failure(f"{path} answered 200 but not JSON: {(response.text or '')[:80]!r}")
            return None
        problem = check(body)
        if problem:
            response.failure(f"{path}: {problem}")
            return None
        response.success()
        return body


def get_page(client: Any, path: str, name: str, marker: str) -> bool:
    """GET an HTML page; it must be 200, text/html and contain ``marker``."""
    with client.get(path, name=name, catch_response=True) as response:
        kind = response.headers.get("Content-Type", "")
        if response.status_code != 200:
            response.failure(f"HTTP {response.status_code} from {path}: {_error_text(response)}")
        elif "text/html" not in kind:
            response.failure(f"{path} answered {kind or 'no Content-Type'}, expected text/html")
        elif marker not in (response.text or ""):
            response.failure(f"{path} lacks {marker!r}: not the dashboard page")
        else:
            response.success()
            return True
        return False
