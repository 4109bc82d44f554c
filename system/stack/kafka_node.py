"""One Kafka node's process: its logging, its storage (formatted once) and its command.

Shared by the single broker (:mod:`system.stack.kafka`) and the 3-node KRaft cluster
(:mod:`system.stack.kafka_cluster`).
"""

from __future__ import annotations

import base64
import subprocess
import uuid
from pathlib import Path

from system.stack.errors import SetupError

LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def cluster_id() -> str:
    """22 characters: URL-safe base64 of a UUID, no padding (what StorageTool expects).

    One in 64 such ids starts with "-", which StorageTool's argument parser takes for an
    option; those are drawn again."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def java_command(jars: Path, main: str, *args: str, heap: str = "1g",
                 log4j2: Path | None = None) -> list[str]:
    cmd = ["java", f"-Xmx{heap}", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
           "-Djava.net.preferIPv4Stack=true"]
    if log4j2 is not None:
        cmd.append(f"-Dlog4j2.configurationFile={log4j2}")
    return [*cmd, "-cp", f"{jars}/*", main, *args]


def node_command(home: Path, jars: Path, properties: str, new_cluster_id, *,
                 heap: str = "1g", what: str = "Kafka") -> list[str]:
    """Write ``home``'s config (``properties``, whose ``log.dirs`` is ``home/data``), format
    that storage on first start with ``new_cluster_id()``, and return the broker command."""
    config_dir, data = home / "config", home / "data"
    config_dir.mkdir(parents=True, exist_ok=True)
    props = config_dir / "server.properties"
    props.write_text(properties)
    log4j2 = config_dir / "log4j2.properties"
    log4j2.write_text(LOG4J2)
    if not (data / "meta.properties").exists():
        fmt = java_command(jars, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(),
                           "-c", str(props), "--ignore-formatted", heap="256m", log4j2=log4j2)
        done = subprocess.run(fmt, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise SetupError(f"{what} storage format failed ({' '.join(fmt)}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return java_command(jars, "kafka.Kafka", str(props), heap=heap, log4j2=log4j2)
