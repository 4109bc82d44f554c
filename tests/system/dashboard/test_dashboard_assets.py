"""Front-end libraries: installed once with npm, then found offline; a clear error without npm."""

from __future__ import annotations

from pathlib import Path

import pytest

from system.config import cache_dir
from system.dashboard.assets import AssetsError, assets_dir, install_assets, missing_assets


def test_second_install_needs_neither_npm_nor_network(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = cache_dir()
    install_assets(cache)  # the first run installs; later runs find the files
    monkeypatch.setenv("PATH", "")  # no npm reachable now

    messages: list[str] = []
    directory = install_assets(cache, log=messages.append)

    assert directory == assets_dir(cache)
    assert missing_assets(directory) == []
    assert "already installed" in messages[0]


def test_missing_npm_is_named_in_the_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")

    with pytest.raises(AssetsError, match="npm was not found"):
        install_assets(tmp_path)


def test_page_without_assets_says_how_to_install_them(tmp_path: Path) -> None:
    from system.dashboard import create_app

    app = create_app(
        {
            "ASSETS_DIR": str(tmp_path),
            "MONGO_URI": "mongodb://127.0.0.1:9/?directConnection=true",
        }
    )
    page = app.test_client().get("/")

    assert page.status_code == 200
    assert "iotbench setup" in page.get_data(as_text=True)
