"""The MongoDB handle of the dashboard, attached to the app as in the Flask tutorial.

Unlike the tutorial's sqlite connection, a ``MongoClient`` owns a connection pool and monitor
threads, so one client lives as long as the app (in ``app.extensions``) and requests borrow it
through :func:`get_db`; opening a client per request would reconnect on every request.
"""

from __future__ import annotations

import atexit

from flask import Flask, current_app, g
from pymongo import MongoClient
from pymongo.database import Database

EXTENSION_KEY = "iotbench_mongo"


def make_client(app: Flask) -> MongoClient:
    timeout_ms = int(app.config["MONGO_TIMEOUT_MS"])
    return MongoClient(
        app.config["MONGO_URI"],
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        # A stalled link (a toxiproxy `timeout` toxic) must end in a 503, not a hung worker.
        socketTimeoutMS=int(app.config["MONGO_SOCKET_TIMEOUT_MS"]),
        tz_aware=True,
        appname="iotbench-dashboard",
    )


def get_db() -> Database:
    """The configured database for the current request."""
    if "db" not in g:
        client: MongoClient = current_app.extensions[EXTENSION_KEY]
        g.db = client[current_app.config["MONGO_DB"]]
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    # The client is shared by the whole app; a request only drops its reference.
    g.pop("db", None)


def init_app(app: Flask) -> None:
    client = make_client(app)
    app.extensions[EXTENSION_KEY] = client
    app.teardown_appcontext(close_db)
    atexit.register(client.close)
