"""A SparkSession wired for our stack: local Kafka connector jars, loopback, small memory.

Used by the processor job and by tests; the connector jars come from ``iotbench setup`` and
are passed as ``spark.jars`` (no Ivy resolution at run time).
"""

from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path

from system.config import HOST, cache_dir
from system.stack.setup import spark_jars


def build_session(master: str, app_name: str, *, driver_host: str = HOST,
                  cache: Path | None = None,
                  executor_memory: str = "512m", cores_max: int | None = None,
                  shuffle_partitions: int = 2, extra: dict[str, str] | None = None,
                  executor_python: str = sys.executable):
    """``executor_python``: the interpreter executors run Python with; it needs pymongo.
    Our own ``system`` package is shipped to the executors as a zip, so a remote cluster's
    workers only need the third-party packages."""
    from pyspark.sql import SparkSession

    # pyspark takes the executors' interpreter from this variable when the context starts
    # (the spark.pyspark.python setting only reaches spark-submit).
    os.environ["PYSPARK_PYTHON"] = executor_python
    jars = spark_jars(cache or cache_dir())
    if not jars:
        raise RuntimeError("Spark Kafka connector jars are missing; run `iotbench setup`.")
    builder = (
        SparkSession.builder.master(master).appName(app_name)
        .config("spark.jars", ",".join(str(j) for j in jars))
        .config("spark.driver.host", driver_host)
        # A driver that remote executors reach listens on every interface.
        .config("spark.driver.bindAddress", HOST if driver_host == HOST else "0.0.0.0")
        .config("spark.executor.memory", executor_memory)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.streaming.metricsEnabled", "true")
    )
    if cores_max:
        builder = builder.config("spark.cores.max", str(cores_max))
    for key, value in (extra or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    session.sparkContext.addPyFile(str(_package_zip()))
    return session


def _package_zip() -> Path:
    """Zip the ``system`` package (its Python files) for the executors."""
    root = Path(__file__).resolve().parents[1]
    out = Path(tempfile.mkdtemp(prefix="iotbench-pyfiles-")) / "iotbench_system.zip"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in root.rglob("*.py"):
            zf.write(path, path.relative_to(root.parent))
    return out
