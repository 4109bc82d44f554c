"""``iotbench load --ui`` serves Locust's web UI, and headless Chromium renders it."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from load_helpers import REPO, LoadStack

UI_PORT = 8089 + 4000
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=3) as response:
        return response.status, response.read().decode("utf-8", "replace")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def locust_ui(load_stack: LoadStack, tmp_path: Path) -> Iterator[str]:
    log = (tmp_path / "locust-ui.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "load.cli", "--ui", "--web-port", str(UI_PORT)],
        cwd=REPO, env=load_stack.env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{UI_PORT}/"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                _get(url)
                break
            except OSError:
                time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    assert not _port_open(UI_PORT), "the Locust UI still listens after it was stopped"


def test_ui_serves_locust_page_and_chromium_renders_it(locust_ui: str, artifacts: Path,
                                                       tmp_path: Path) -> None:
    status, page = _get(locust_ui)
    assert status == 200
    assert "Locust" in page
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.skip("chromium is not installed")
    shot = artifacts / "locust-ui.png"
    shot.unlink(missing_ok=True)
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
         "--window-size=1280,900", "--virtual-time-budget=8000", f"--screenshot={shot}",
         locust_ui],
        capture_output=True, text=True, timeout=90, check=False)
    assert shot.is_file(), f"no screenshot; chromium said:\n{result.stderr[-2000:]}"
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").resize((64, 48)).getcolors(64 * 48)
    assert colours is None or len(colours) > 8, "the screenshot is (nearly) one colour"
