"""A private PostgreSQL cluster for tests, run the way the native stack runs it."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

from system.stack import process
from system.stack.postgres import PostgresCluster
from system.stack.wait import wait_until


def running_cluster(home: Path, port: int) -> Iterator[PostgresCluster]:
    """A generator: the first ``next()`` starts the cluster and yields it; ``close()`` stops it
    (fast shutdown) and checks that no process of it is left."""
    cluster = PostgresCluster(home, port)
    cluster.prepare()
    log = home / "postgres.log"
    popen, record = process.start("postgres", cluster.command(), log, cwd=home,
                                  user=cluster.run_as, stop_signal=signal.SIGINT)
    try:
        wait_until("postgres", cluster.ready(), 60, alive=lambda: popen.poll() is None,
                   log_tail=lambda: process.log_tail(log))
        yield cluster
    finally:
        process.stop(record)
        popen.wait(10)
        assert not record.alive(), "the PostgreSQL postmaster outlived its stop"
