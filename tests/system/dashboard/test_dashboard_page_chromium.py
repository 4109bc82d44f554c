"""The page loads in headless Chromium, its three charts draw, and a screenshot is kept."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import waitress
from flask import Flask

from system.config import cache_dir
from system.dashboard import create_app
from system.dashboard.assets import install_assets

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1800",
    "--virtual-time-budget=5000",
]


def find_or_install_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip(
            "chromium is not installed and cannot be installed here (needs root and apt-get)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if result.returncode != 0:
            pytest.skip(
                f"chromium could not be installed: {' '.join(command)} failed: "
                f"{result.stderr.strip()[-300:]}"
            )
    return shutil.which("chromium") or pytest.skip(
        "apt-get installed chromium but it is not on PATH"
    )


class ServedApp:
    """The app under waitress in a thread, on a free port."""

    def __init__(self, app: Flask) -> None:
        self.server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self.server.effective_port}/"
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
        self.server.task_dispatcher.shutdown()


@pytest.fixture(scope="module")
def chromium() -> str:
    return find_or_install_chromium()


@pytest.fixture(scope="module")
def vendor_dir() -> Path:
    return install_assets(cache_dir())


def run_chromium(chromium: str, profile: Path, *args: str) -> str:
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def body_attributes(dom: str) -> dict[str, str]:
    tag = re.search(r"<body([^>]*)>", dom)
    assert tag, dom[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(1)))


def test_page_draws_its_charts(
    chromium: str,
    vendor_dir: Path,
    ferret_server: Any,
    seeded_db: Any,
    tmp_path: Path,
    artifacts_dir: Path,
) -> None:
    app = create_app({"MONGO_URI": ferret_server.uri, "ASSETS_DIR": str(vendor_dir)})
    screenshot = artifacts_dir / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    with ServedApp(app) as served:
        dom = run_chromium(chromium, tmp_path / "profile-dom", "--dump-dom", served.url)
        run_chromium(chromium, tmp_path / "profile-shot", f"--screenshot={screenshot}", served.url)

    attributes = body_attributes(dom)
    errors = json.loads(attributes["data-errors"].replace("&quot;", '"'))
    assert errors == []
    assert attributes["data-state"] == "ok"
    assert attributes["data-charts-drawn"] == "3"
    assert dom.count('class="table-danger"') > 0  # anomalies are highlighted in red
    assert screenshot.stat().st_size > 20_000


def test_page_says_when_the_database_is_unreachable(
    chromium: str, vendor_dir: Path, tmp_path: Path, artifacts_dir: Path
) -> None:
    app = create_app(
        {
            "MONGO_URI": "mongodb://127.0.0.1:9/?directConnection=true",
            "MONGO_TIMEOUT_MS": 300,
            "ASSETS_DIR": str(vendor_dir),
        }
    )
    with ServedApp(app) as served:
        dom = run_chromium(chromium, tmp_path / "profile", "--dump-dom", served.url)
        run_chromium(
            chromium,
            tmp_path / "profile-shot",
            f"--screenshot={artifacts_dir / 'dashboard-db-down.png'}",
            served.url,
        )

    assert body_attributes(dom)["data-state"] == "db-down"
    banner = re.search(r'<div id="db-banner" class="([^"]*)"', dom)
    assert banner and "d-none" not in banner.group(1)
    assert "Database unreachable" in dom
