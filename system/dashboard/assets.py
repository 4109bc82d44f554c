"""Front-end libraries (Chart.js, Bootstrap, Font Awesome), installed with npm at setup time.

They are served by the app under ``/vendor/`` from the cache, so the page works offline and no
library is committed to the repository.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

PACKAGES = ("chart.js@4", "bootstrap@5", "@fortawesome/fontawesome-free@6")

REQUIRED_FILES = (
    "chart.js/dist/chart.umd.js",
    "bootstrap/dist/css/bootstrap.min.css",
    "bootstrap/dist/js/bootstrap.bundle.min.js",
    "@fortawesome/fontawesome-free/css/all.min.css",
    "@fortawesome/fontawesome-free/webfonts/fa-solid-900.woff2",
)
"""What the page loads; the folders they live in are the only ones served under /vendor/."""

SERVED_PREFIXES = (
    "chart.js/dist/",
    "bootstrap/dist/",
    "@fortawesome/fontawesome-free/css/",
    "@fortawesome/fontawesome-free/webfonts/",
)


class AssetsError(RuntimeError):
    """The front-end libraries could not be installed."""


def assets_dir(cache: Path) -> Path:
    return cache / "npm" / "node_modules"


def missing_assets(directory: Path) -> list[str]:
    return [name for name in REQUIRED_FILES if not (directory / name).is_file()]


def install_assets(cache: Path, log: Callable[[str], object] = print) -> Path:
    """Install the libraries into ``<cache>/npm`` unless they are already there."""
    target = assets_dir(cache)
    if not missing_assets(target):
        log(f"front-end assets already installed in {target}")
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise AssetsError(
            "npm was not found on PATH; it installs the dashboard's front-end libraries. "
            "Install Node.js with npm (Debian: apt-get install -y npm), "
            "then run `iotbench setup` again."
        )
    prefix = cache / "npm"
    prefix.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), *PACKAGES]
    log(f"installing front-end assets: {' '.join(command)}")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise AssetsError(
            f"npm install failed with exit code {result.returncode}:\n{tail}\n"
            "Hint: check that the npm registry is reachable, then run `iotbench setup` again."
        )
    still_missing = missing_assets(target)
    if still_missing:
        raise AssetsError(
            f"npm install finished but these files are missing in {target}: "
            f"{', '.join(still_missing)}; the package layout may have changed"
        )
    return target
