"""``iotbench setup``: install what the native stack needs into one cache folder.

Every step is idempotent: it leaves a stamp when complete and is skipped when the stamp is
there, so a second run downloads nothing and works offline. Steps:

- Kafka broker jars (``kafka_2.13`` + its runtime deps + log4j2's slf4j-1.7 binding), by Maven;
- the official Spark Kafka source at exactly the installed pyspark version, with the runtime
  dependencies pyspark does not already ship, by Maven (used as local ``spark.jars``);
- the Toxiproxy server, by ``go install``;
- the MongoDB-wire server: FerretDB v1 built with Go (also kept when a ``mongod`` is on PATH,
  which ``stack.mongo: auto`` prefers);
- PostgreSQL, FerretDB's backend by default (``stack.mongo: auto``): only looked for (it is
  an OS package); when missing, the step says how to install it, that the stack will use
  SQLite meanwhile, and setup goes on;
- the dashboard's front-end libraries, by npm.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from system.stack import versions
from system.stack.build_tools import go_env, run_streaming
from system.stack.errors import MissingPrerequisite

Log = Callable[[str], None]

INSTALL_HINTS = {
    "java": "Java 17 is required: `apt-get install openjdk-17-jdk-headless` (or any JDK 17+).",
    "mvn": "Maven is required to fetch Kafka and Spark jars: `apt-get install maven`.",
    "go": "Go is required to build Toxiproxy and FerretDB: `apt-get install golang` (1.22+).",
    "npm": "npm is required for the dashboard's front-end libraries: `apt-get install npm`.",
}


def require(tool: str) -> str:
    """Path of ``tool`` on PATH, or one clear error naming it and how to install it."""
    path = shutil.which(tool)
    if path is None:
        raise MissingPrerequisite(f"`{tool}` not found on PATH. {INSTALL_HINTS[tool]}")
    return path


# ---------------------------------------------------------------- paths of what gets installed

def kafka_jars(cache: Path) -> Path:
    return cache / "jars" / f"kafka_{versions.SCALA}-{versions.KAFKA}"


def spark_kafka_jars(cache: Path) -> Path:
    return cache / "jars" / f"spark-sql-kafka-0-10_{versions.SCALA}-{versions.pyspark()}"


def toxiproxy_binary(cache: Path) -> Path:
    return cache / "bin" / f"toxiproxy-{versions.TOXIPROXY}" / "server"


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _done(folder: Path) -> bool:
    return (folder / ".complete").exists()


def _mark_done(folder: Path) -> None:
    (folder / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z\n"))


# ---------------------------------------------------------------- Maven

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>iotbench</groupId><artifactId>{name}</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""


def _maven_copy(cache: Path, name: str, coords: list[str], dest: Path, log: Log) -> None:
    """Resolve ``coords`` (group:artifact:version) with runtime deps and copy the jars to dest."""
    mvn = require("mvn")
    deps = "\n".join(
        "    <dependency><groupId>{}</groupId><artifactId>{}</artifactId>"
        "<version>{}</version></dependency>".format(*c.split(":"))
        for c in coords
    )
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=cache) as work:
        Path(work, "pom.xml").write_text(_POM.format(name=name, deps=deps))
        run_streaming(
            [mvn, "-B", f"-Dmaven.repo.local={cache / 'm2'}",
             "dependency:copy-dependencies", "-DincludeScope=runtime",
             f"-DoutputDirectory={staging}"],
            log, cwd=Path(work),
            show=lambda line: line.startswith(("Downloaded from", "[ERROR]", "[INFO] Copying")),
        )
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


def install_kafka(cache: Path, log: Log) -> Path:
    dest = kafka_jars(cache)
    if _done(dest):
        return dest
    require("java")
    _maven_copy(cache, "kafka-broker", [
        f"org.apache.kafka:kafka_{versions.SCALA}:{versions.KAFKA}",
        # Kafka 4.x logs through log4j2 but its slf4j is 1.7: this binds the two.
        f"org.apache.logging.log4j:log4j-slf4j-impl:{versions.LOG4J}",
    ], dest, log)
    _mark_done(dest)
    return dest


def install_spark_kafka(cache: Path, log: Log) -> Path:
    """The connector + what it needs that pyspark's own jars folder lacks.

    A jar whose artifact pyspark already ships (scala-library, slf4j, snappy, ...) is
    dropped so the classpath has one version of everything.
    """
    dest = spark_kafka_jars(cache)
    if _done(dest):
        return dest
    require("java")
    spark = versions.pyspark()
    _maven_copy(cache, "spark-kafka", [
        f"org.apache.spark:spark-sql-kafka-0-10_{versions.SCALA}:{spark}",
    ], dest, log)
    shipped = {_artifact(j.name) for j in (pyspark_home() / "jars").glob("*.jar")}
    for jar in dest.glob("*.jar"):
        if _artifact(jar.name) in shipped:
            jar.unlink()
    _mark_done(dest)
    return dest


def _artifact(jar_name: str) -> str:
    """``kafka-clients-3.9.1.jar`` → ``kafka-clients``."""
    parts = jar_name.removesuffix(".jar").split("-")
    while parts and parts[-1][:1].isdigit():
        parts.pop()
    return "-".join(parts)


def spark_jars(cache: Path) -> list[Path]:
    return sorted(spark_kafka_jars(cache).glob("*.jar"))


# ---------------------------------------------------------------- Go

def install_toxiproxy(cache: Path, log: Log) -> Path:
    binary = toxiproxy_binary(cache)
    if binary.exists():
        return binary
    go = require("go")
    binary.parent.mkdir(parents=True, exist_ok=True)
    run_streaming(
        [go, "install", f"github.com/Shopify/toxiproxy/v2/cmd/server@{versions.TOXIPROXY}"],
        log, cwd=cache, env={**go_env(cache), "GOBIN": str(binary.parent)},
    )
    return binary


def mongo_server(cache: Path) -> tuple[str, Path]:
    """("mongod", path) when a real mongod is on PATH, else ("ferretdb", path of our build)."""
    mongod = shutil.which("mongod")
    if mongod:
        return "mongod", Path(mongod)
    from system.stack import ferretdb

    return "ferretdb", ferretdb.binary_path(cache)


def install_mongo(cache: Path, log: Log) -> Path:
    kind, path = mongo_server(cache)
    if kind == "mongod":
        log(f"    a real mongod is on PATH ({path}): `stack.mongo: auto` uses it")
        if shutil.which("go") is None:
            log("    FerretDB not built (no Go): only `stack.mongo: mongod` will work")
            return path
    from system.stack import ferretdb

    return ferretdb.build(cache, log)


def find_postgres(cache: Path, log: Log) -> Path | None:
    """PostgreSQL is an OS package: report where it is, or how to install it."""
    from system.stack import postgres

    found = postgres.bindir()
    if found is None:
        log(f"    not found: `stack.mongo: auto` will run FerretDB on SQLite, which sustains "
            f"less (README, performance). {postgres.INSTALL_HINT}")
    return found


# ---------------------------------------------------------------- all of it

@dataclass(frozen=True)
class Step:
    title: str
    install: Callable[[Path, Log], Path | None]
    """Returns where the component is; None only for an optional one that is missing."""


def _install_assets(cache: Path, log: Log) -> Path:
    from system.dashboard.assets import install_assets

    return install_assets(cache, log)


STEPS = (
    Step(f"Kafka {versions.KAFKA} broker jars (Maven)", install_kafka),
    Step("Spark Kafka connector at the pyspark version (Maven)", install_spark_kafka),
    Step(f"Toxiproxy {versions.TOXIPROXY} server (go install)", install_toxiproxy),
    Step(f"MongoDB-wire server (FerretDB {versions.FERRETDB}; a mongod on PATH is used too)",
         install_mongo),
    Step("PostgreSQL server (FerretDB's default backend; optional: else SQLite)", find_postgres),
    Step("Dashboard front-end libraries (npm)", _install_assets),
)


def setup(cache: Path, log: Log = print) -> dict[str, Path]:
    """Install every component; returns what is where (an optional component that is missing
    is left out). Raises SetupError on the first failure."""
    cache.mkdir(parents=True, exist_ok=True)
    where: dict[str, Path] = {}
    for i, step in enumerate(STEPS, 1):
        log(f"[{i}/{len(STEPS)}] {step.title}")
        started = time.monotonic()
        path = step.install(cache, log)
        if path is None:
            log("      skipped (optional, see above)")
            continue
        where[step.title] = path
        log(f"      ok  {path}  ({time.monotonic() - started:.1f} s)")
    return where
