"""Which MongoDB-wire server the native stack runs (``stack.mongo``), and its services.

- ``ferretdb-sqlite``: our FerretDB v1 build on SQLite files under ``<home>/mongo``;
- ``ferretdb-postgres``: the same build on a private PostgreSQL cluster (``postgres.py``),
  started first; FerretDB reads the cluster's password from its 0600 file;
- ``mongod``: a real ``mongod`` from PATH, data under ``<home>/mongo``;
- ``auto`` (default): ``mongod`` when one is on PATH, else ``ferretdb-postgres`` when
  PostgreSQL is installed and can run in the stack's state folder, else ``ferretdb-sqlite``
  (:func:`auto_choice` says why). PostgreSQL comes before SQLite by measurement: on the
  quickstart topology our design sustained 120 events/s on SQLite
  (``benchmarks/results/pipeline-sqlite.md``) and 1,280 on PostgreSQL (``pipeline.md``).
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from system.config import HOST, Ports
from system.stack import postgres
from system.stack.errors import MissingPrerequisite, StackError
from system.stack.service import Service
from system.stack.wait import Predicate

CHOICES = ("auto", "ferretdb-sqlite", "ferretdb-postgres", "mongod")
MONGOD_HINT = ("install MongoDB's server so `mongod` is on PATH, or pick "
               "`ferretdb-sqlite` / `ferretdb-postgres`.")


def resolve(choice: str, home: Path) -> str:
    """The concrete backend for a ``stack.mongo`` value of a stack kept in ``home``."""
    return choose(choice, home)[0]


def choose(choice: str, home: Path) -> tuple[str, str | None]:
    """The concrete backend, and why ``auto`` chose it (None when the choice was given)."""
    if choice not in CHOICES:
        raise StackError(f"stack.mongo must be one of {', '.join(CHOICES)}, got {choice!r}")
    return auto_choice(home) if choice == "auto" else (choice, None)


def auto_choice(home: Path) -> tuple[str, str]:
    """What ``auto`` picks for a stack kept in ``home``, and why (one sentence)."""
    if shutil.which("mongod"):
        return "mongod", "a real mongod is on PATH"
    why_not = postgres.why_not(home)
    if why_not is None:
        return "ferretdb-postgres", "PostgreSQL is installed (the faster FerretDB backend)"
    return "ferretdb-sqlite", f"not ferretdb-postgres: {why_not}"


def missing(backend: str, cache: Path) -> list[str]:
    """What this backend needs that is not installed, each with how to get it."""
    from system.stack import ferretdb

    if backend == "mongod":
        return [] if shutil.which("mongod") else [f"`mongod` on PATH ({MONGOD_HINT})"]
    gaps = []
    binary = ferretdb.binary_path(cache)
    if not binary.exists():
        gaps.append(f"MongoDB-wire server ({binary}; run `iotbench setup`)")
    if backend == "ferretdb-postgres" and postgres.bindir() is None:
        gaps.append(f"PostgreSQL server ({postgres.INSTALL_HINT})")
    return gaps


def preflight(backend: str, cache: Path, home: Path, ports: Ports) -> None:
    """Everything this backend needs, checked before any service starts."""
    gaps = missing(backend, cache)
    if gaps:
        raise MissingPrerequisite(f"stack.mongo: {backend} needs: " + "; ".join(gaps))
    if backend == "ferretdb-postgres":
        cluster(home, ports).check()


def cluster(home: Path, ports: Ports) -> postgres.PostgresCluster:
    return postgres.PostgresCluster(home, ports.postgres)


def services(backend: str, cache: Path, home: Path, ports: Ports, mongo_uri: str
             ) -> list[Service]:
    """The Mongo-wire service (named ``mongo``), after ``postgres`` for ferretdb-postgres."""
    from system.stack import ferretdb

    logs = home / "logs"
    listen = f"{HOST}:{ports.mongo}"
    data = home / "mongo"
    out: list[Service] = []
    after = None
    if backend == "mongod":
        def command() -> list[str]:
            data.mkdir(parents=True, exist_ok=True)
            return [shutil.which("mongod") or "mongod", "--bind_ip", HOST,
                    "--port", str(ports.mongo), "--dbpath", str(data)]
    elif backend == "ferretdb-sqlite":
        def command() -> list[str]:
            return [str(ferretdb.binary_path(cache)), "-listen-addr", listen,
                    "-handler", "sqlite", "-sqlite-dir", str(data)]
    elif backend == "ferretdb-postgres":
        pg = cluster(home, ports)

        def postgres_command() -> list[str]:
            pg.prepare()  # initdb on first use: on this thread, so up() stays parallel
            return pg.command()

        out.append(Service(
            "postgres", postgres_command, pg.ready(),
            f"PostgreSQL logs to {logs / 'postgres.log'}; `--purge` recreates its cluster.",
            user=pg.run_as, stop_signal=signal.SIGINT))  # SIGINT = fast shutdown
        after = "postgres"

        def command() -> list[str]:
            return [str(ferretdb.binary_path(cache)), "-listen-addr", listen,
                    "-handler", "postgresql", "-postgresql-url", pg.url(),
                    "-postgresql-password-file", str(pg.password_file)]
    else:
        raise StackError(f"unknown Mongo backend {backend!r}; use one of {', '.join(CHOICES)}")
    out.append(Service(
        "mongo", command,
        Predicate(lambda: _mongo_ping(mongo_uri), f"{backend} answering ping on {listen}"),
        f"{backend} logs to {logs / 'mongo.log'}; `--purge` resets its data.", after=after))
    return out


def _mongo_ping(uri: str) -> bool:
    from pymongo import MongoClient

    client = MongoClient(uri, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
    try:
        # listDatabases reaches the storage (PostgreSQL, SQLite files), ping alone may not.
        return bool(client.admin.command("ping").get("ok")
                    and client.admin.command("listDatabases").get("ok"))
    finally:
        client.close()
