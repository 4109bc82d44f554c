"""Spark standalone master and workers from the pyspark distribution."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

from system.config import HOST, Ports
from system.stack.setup import pyspark_home


def spark_env(home: Path) -> dict[str, str]:
    """Environment for every Spark process we start (daemons, drivers, executors)."""
    return {
        "SPARK_HOME": str(pyspark_home()),
        "SPARK_LOCAL_IP": HOST,  # binds RPC and web UIs to loopback
        "SPARK_LOG_DIR": str(home / "logs"),
        "SPARK_NO_DAEMONIZE": "1",
        # Executors run Python UDFs / foreachBatch partitions with our venv's interpreter.
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }


def spark_class() -> str:
    return str(pyspark_home() / "bin" / "spark-class")


def master_command(ports: Ports) -> list[str]:
    return [spark_class(), "org.apache.spark.deploy.master.Master", "--host", HOST,
            "--port", str(ports.spark_master), "--webui-port", str(ports.spark_master_ui)]


def worker_command(ports: Ports, index: int, cores: int, memory: str, work_dir: Path
                   ) -> list[str]:
    return [spark_class(), "org.apache.spark.deploy.worker.Worker", "--host", HOST,
            "--port", str(ports.spark_worker_base + index),
            "--webui-port", str(ports.spark_worker_ui_base + index),
            "--cores", str(cores), "--memory", memory, "--work-dir", str(work_dir),
            f"spark://{HOST}:{ports.spark_master}"]


def master_state(ui_url: str) -> dict:
    with urllib.request.urlopen(f"{ui_url}/json/", timeout=3) as resp:
        return json.loads(resp.read())


def alive_workers(ui_url: str) -> int:
    state = master_state(ui_url)
    return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")
