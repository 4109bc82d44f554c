"""A private PostgreSQL cluster for FerretDB's ``postgresql`` handler (``stack.mongo:
ferretdb-postgres``).

The cluster lives under the stack state (``<home>/postgres/data``), listens on 127.0.0.1 only
(no Unix socket), and its superuser's password is generated here, written to one file of
mode 0600 (``<home>/secrets/postgres-password``) and never printed, logged or put on a
command line: initdb reads it from a short-lived file, FerretDB from the secret file.

PostgreSQL refuses to run as root, so when we are root initdb and the server run as the
``postgres`` system user (Debian's package creates it) and the cluster's folder is its own.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pwd
import secrets
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from system.config import HOST
from system.stack.errors import MissingPrerequisite, SetupError
from system.stack.wait import Predicate, WaitStrategy

INSTALL_HINT = ("PostgreSQL is needed for `stack.mongo: ferretdb-postgres` (what `auto` picks "
                "when it can): install it "
                "with `apt-get install postgresql` (Debian/Ubuntu; its server binaries land in "
                "/usr/lib/postgresql/<version>/bin, found without PATH changes).")
SERVICE_USER = "postgres"
"""The unprivileged user the cluster runs as when we are root."""
SUPERUSER = "ferretdb"
DATABASE = "postgres"
"""FerretDB keeps one schema per Mongo database inside this PostgreSQL database."""
FERRETDB_POOL = 100
"""FerretDB v1.24.2 holds one pooled connection per statement of an update command until the
command ends (``defer closer.Close()`` inside the statement loop of
``internal/handler/msg_update.go``), so a command of >= pool-size matching statements waits
forever. Its PostgreSQL pool defaults to 50 (``metadata/pool/uri.go``); 100 is what its SQLite
pool has (``SetMaxOpenConns(100)``), so both backends take the same update batches."""
MAX_CONNECTIONS = FERRETDB_POOL + 50
"""Room for the pool, pg_isready and a psql of someone looking."""
AUTOVACUUM_NAPTIME = "5s"
"""The sink updates each device's ``device_stats`` and ``detector_state`` document every
micro-batch, and every update leaves a dead row version (FerretDB's indexes are on the one
jsonb column it rewrites, so no update is HOT). At PostgreSQL's default of one autovacuum
round a minute those 20-row tables grew thousands of dead versions between rounds and their
update bulks slowed 45 → 151 ms within a run at 500 events/s (capacity sitting
20261207-184418, run003-r1)."""
SETUP_SQL = Path(__file__).with_name("postgres_setup.sql")
"""What the cluster runs once per change of this file, before its server starts (an index
FerretDB's ``_id`` lookups can use; the file says why)."""


def bindir() -> Path | None:
    """The folder with initdb, postgres and pg_isready, or None when PostgreSQL is missing.

    ``IOTBENCH_POSTGRES_BINDIR`` names it when set (and is then the only place looked at).
    Otherwise, as Debian keeps the server binaries off PATH: PATH, then ``pg_config
    --bindir``, then the newest ``/usr/lib/postgresql/*/bin``."""
    if chosen := os.environ.get("IOTBENCH_POSTGRES_BINDIR"):
        return _complete(Path(chosen))
    candidates: list[Path] = []
    if on_path := shutil.which("initdb"):
        candidates.append(Path(on_path).parent)
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True,
                             check=False)
        if out.returncode == 0 and out.stdout.strip():
            candidates.append(Path(out.stdout.strip()))
    candidates += sorted((Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
                         key=lambda p: _version_key(p.parent.name), reverse=True)
    return next((folder for folder in candidates if _complete(folder)), None)


def _complete(folder: Path) -> Path | None:
    tools = ("initdb", "postgres", "pg_isready")
    return folder if all((folder / tool).is_file() for tool in tools) else None


def require_bindir() -> Path:
    found = bindir()
    if found is None:
        raise MissingPrerequisite(f"PostgreSQL server binaries (initdb, postgres) not found. "
                                  f"{INSTALL_HINT}")
    return found


def why_not(home: Path) -> str | None:
    """Why a cluster cannot run under ``home`` (not installed, no user, a folder its user
    cannot pass), or None when it can."""
    try:
        PostgresCluster(home, 0).check()
    except (MissingPrerequisite, SetupError) as refused:
        return str(refused)
    return None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


@dataclass(frozen=True)
class PostgresCluster:
    """One private cluster: where it lives, how to start it, how to reach it."""

    home: Path
    """The stack's state folder."""
    port: int

    @property
    def folder(self) -> Path:
        return self.home / "postgres"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def password_file(self) -> Path:
        return self.home / "secrets" / "postgres-password"

    @property
    def run_as(self) -> str | None:
        """The user to run initdb and the server as, or None for the current user."""
        return SERVICE_USER if os.geteuid() == 0 else None

    def url(self) -> str:
        """FerretDB's PostgreSQL URL, without the password (it reads that from a file)."""
        return (f"postgres://{SUPERUSER}@{HOST}:{self.port}/{DATABASE}"
                f"?pool_max_conns={FERRETDB_POOL}")

    def command(self) -> list[str]:
        """The server in the foreground, so its pid is the postmaster's."""
        return [str(require_bindir() / "postgres"), "-D", str(self.data_dir),
                "-p", str(self.port), "-c", f"listen_addresses={HOST}",
                "-c", "unix_socket_directories=", "-c", f"max_connections={MAX_CONNECTIONS}",
                "-c", f"autovacuum_naptime={AUTOVACUUM_NAPTIME}"]

    def ready(self) -> WaitStrategy:
        isready = [str(require_bindir() / "pg_isready"), "-q", "-h", HOST, "-p", str(self.port),
                   "-U", SUPERUSER, "-d", DATABASE, "-t", "2"]
        return Predicate(lambda: subprocess.run(isready, capture_output=True, timeout=5,
                                                check=False).returncode == 0,
                         f"PostgreSQL accepting connections on {HOST}:{self.port} (pg_isready)")

    # ------------------------------------------------------------------ one-time set-up

    def check(self) -> None:
        """Before anything starts: installed, and (as root) its user can reach the folder."""
        require_bindir()
        user = self._user()
        if user is not None:
            _check_reachable(self.folder, user)

    def prepare(self) -> None:
        """initdb the cluster on first use (password generated then); later calls reuse it.
        Either way the cluster then has ``SETUP_SQL`` applied (the server is not running)."""
        bins = require_bindir()
        user = self._user()
        if (self.data_dir / "PG_VERSION").is_file():
            if not self.password_file.is_file():
                raise SetupError(f"the PostgreSQL cluster in {self.data_dir} has lost its "
                                 f"password file {self.password_file}.\nHint: `iotbench stack "
                                 f"down --purge` recreates the cluster (its data is lost).")
        else:
            self._initdb(bins, user)
        self._apply_setup_sql(bins, user)

    def _apply_setup_sql(self, bins: Path, user: pwd.struct_passwd | None) -> None:
        """Run ``SETUP_SQL`` in single-user mode unless this cluster already ran this text."""
        sql = SETUP_SQL.read_text()
        digest = hashlib.sha256(sql.encode()).hexdigest()
        stamp = self.folder / "setup-sql.sha256"
        if stamp.is_file() and stamp.read_text().strip() == digest:
            return
        cmd = [str(bins / "postgres"), "--single", "-D", str(self.data_dir), "-j", DATABASE]
        out = subprocess.run(cmd, input=sql, capture_output=True, text=True, check=False,
                             cwd=self.folder, **_as_user(user))
        errors = [line for line in (out.stdout + out.stderr).splitlines() if "ERROR" in line]
        if out.returncode != 0 or errors:
            raise SetupError(f"PostgreSQL could not apply {SETUP_SQL.name} (exit "
                             f"{out.returncode}):\n" + "\n".join(
                                 f"    {line}" for line in
                                 (errors or (out.stdout + out.stderr).splitlines())[-15:]))
        stamp.write_text(digest + "\n")

    def _initdb(self, bins: Path, user: pwd.struct_passwd | None) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)  # a half-done initdb
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        if user is not None:
            _check_reachable(self.folder, user)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        password = secrets.token_urlsafe(24)
        self._write_secret(password)
        # initdb reads the password from a file the cluster's user owns; removed right after.
        pwfile = self.folder / "initdb-password"
        _write_private(pwfile, password, user)
        try:
            cmd = [str(bins / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                   f"--pwfile={pwfile}", "--auth-local=scram-sha-256",
                   "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-instructions"]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                 cwd=self.folder, **_as_user(user))
        finally:
            pwfile.unlink(missing_ok=True)
        if out.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise SetupError(f"`initdb` failed (exit {out.returncode}) for {self.data_dir}:\n"
                             + "\n".join(f"    {line}" for line in
                                         (out.stdout + out.stderr).splitlines()[-15:]))

    def purge(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.password_file.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only when nothing else is kept there
            self.password_file.parent.rmdir()

    def _user(self) -> pwd.struct_passwd | None:
        if self.run_as is None:
            return None
        try:
            return pwd.getpwnam(self.run_as)
        except KeyError:
            raise MissingPrerequisite(
                f"running as root, PostgreSQL needs an unprivileged user to run as, and there "
                f"is no `{self.run_as}` user. {INSTALL_HINT} (the package creates it), or "
                f"`useradd --system {self.run_as}`.") from None

    def _write_secret(self, password: str) -> None:
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.password_file.parent, 0o700)
        _write_private(self.password_file, password, None)


def _as_user(user: pwd.struct_passwd | None) -> dict:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _write_private(path: Path, text: str, owner: pwd.struct_passwd | None) -> None:
    """Create ``path`` with mode 0600 from the start (never briefly readable by others)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        if owner is not None:
            os.fchown(fd, owner.pw_uid, owner.pw_gid)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _check_reachable(folder: Path, user: pwd.struct_passwd) -> None:
    """PostgreSQL opens its data dir by path as ``user``: every parent must let it pass."""
    groups = set(os.getgrouplist(user.pw_name, user.pw_gid))
    for parent in folder.resolve().parents:
        if not parent.exists():  # we create it, mode 0755 under the usual umask
            continue
        st = parent.stat()
        if st.st_uid == user.pw_uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid in groups:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            raise SetupError(
                f"PostgreSQL runs as `{user.pw_name}` (it refuses root) and cannot reach "
                f"{folder}: {parent} is mode {stat.filemode(st.st_mode)}.\nHint: keep the stack "
                f"state somewhere it can pass (IOTBENCH_STATE=/var/tmp/iotbench) or "
                f"`chmod o+x {parent}`.")
