"""A throwaway PostgreSQL cluster for the test suite (and for CI).

``$CRM_TUI_TEST_PG_URL`` (a server URL such as
``postgresql+psycopg://crm@127.0.0.1:5433/postgres``) wins when set: CI starts one
cluster with ``.ci/pg-setup`` and every worker shares it. Otherwise
``start_cluster()`` runs initdb into a temp folder, starts ``postgres`` on
127.0.0.1 with a free port and its unix socket inside that folder, and returns its
URL; ``stop()`` removes it again. As root, the server runs as the ``postgres``
account (or ``nobody``) because PostgreSQL refuses to run as root.

Also a command: ``python tests/pg_server.py start DIR`` prints ``export
CRM_TUI_TEST_PG_URL=...`` and leaves the cluster running; ``stop DIR`` ends it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_URL = "CRM_TUI_TEST_PG_URL"
DB_USER = "crm"
DB_PASSWORD = "crm-test"
PREFIX = "crm-tui-pg-"


def find_bindir() -> Path | None:
    """The folder holding initdb/pg_ctl for PostgreSQL 15 or newer, if installed."""
    override = os.environ.get("CRM_TUI_PG_BINDIR")
    candidates = [override] if override else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_major, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            if _major(folder) == 0 or _major(folder) >= 15:
                return Path(folder)
    return None


def _major(folder: str) -> int:
    parts = Path(folder).parts
    for part in reversed(parts):
        if part.isdigit():
            return int(part)
    return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_account() -> str | None:
    """The account to run the server as: None for ourselves, else a non-root user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' account exists to run PostgreSQL")


@dataclass
class Cluster:
    root: Path
    bindir: Path
    port: int
    account: str | None
    owns_root: bool = True

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.account:
            cmd = ["runuser", "-u", self.account, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, cwd="/")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop", check=False)
        if self.owns_root:
            shutil.rmtree(self.root, ignore_errors=True)


def _reap_stale(bindir: Path, account: str | None) -> None:
    """Stop clusters left behind by test sessions that were killed (their owner is gone)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((folder / "owner").read_text())
            os.kill(owner, 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except (OSError, ValueError):
            continue  # not ours to judge
        Cluster(root=folder, bindir=bindir, port=0, account=account).stop()


def start_cluster(root: Path | None = None) -> Cluster:
    """initdb + start a private server; raise RuntimeError saying why it could not."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL 15+ server binaries (initdb, pg_ctl) are not installed")
    account = _server_account()
    owns = root is None
    if owns:
        _reap_stale(bindir, account)
    root = Path(root or tempfile.mkdtemp(prefix=PREFIX))
    root.mkdir(parents=True, exist_ok=True)
    if owns:
        (root / "owner").write_text(str(os.getpid()))
    if account:
        info = pwd.getpwnam(account)
        os.chown(root, info.pw_uid, info.pw_gid)
    os.chmod(root, 0o755)
    cluster = Cluster(root=root, bindir=bindir, port=_free_port(), account=account, owns_root=owns)
    data = root / "data"
    pwfile = root / "pwfile"
    pwfile.write_text(DB_PASSWORD + "\n")
    if account:
        os.chown(pwfile, info.pw_uid, info.pw_gid)
    try:
        # Passwords over TCP (as a real team server), trust on the private socket only.
        cluster._run(
            "initdb",
            "-D",
            str(data),
            "-U",
            DB_USER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        # A server time zone far from UTC: the app must not depend on it.
        options = (
            f"-h 127.0.0.1 -p {cluster.port} -k {root} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB "
            "-c timezone=Pacific/Kiritimati"
        )
        cluster._run(
            "pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "-t", "30", "start"
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        log = root / "server.log"
        if log.exists():
            detail += log.read_text(errors="replace")[-600:]
        cluster.stop()
        raise RuntimeError(f"could not start a PostgreSQL test server: {detail.strip()[-800:]}") from None
    return cluster


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: pg_server.py start|stop DIR", file=sys.stderr)
        return 2
    root = Path(argv[1]).absolute()
    if argv[0] == "start":
        cluster = start_cluster(root)
        (root / "port").write_text(str(cluster.port))
        print(f"export {ENV_URL}={cluster.url}")
        return 0
    bindir = find_bindir()
    if bindir and (root / "data").exists():
        Cluster(root=root, bindir=bindir, port=0, account=_server_account()).stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
