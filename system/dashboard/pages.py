"""GET / (the dashboard page) and /vendor/<path> (front-end libraries from the npm cache)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, send_from_directory

from .assets import SERVED_PREFIXES, missing_assets

bp = Blueprint("pages", __name__)

REFRESH_SECONDS = 15


def _assets_dir() -> Path:
    return Path(current_app.config["ASSETS_DIR"])


@bp.get("/")
def index() -> str:
    return render_template(
        "dashboard.html",
        missing_assets=missing_assets(_assets_dir()),
        refresh_seconds=REFRESH_SECONDS,
    )


@bp.get("/vendor/<path:filename>")
def vendor(filename: str) -> Response:
    if not filename.startswith(SERVED_PREFIXES):
        abort(404, f"{filename!r} is not a served front-end asset")
    # send_from_directory refuses paths that escape the directory.
    return send_from_directory(_assets_dir(), filename, max_age=3600)
