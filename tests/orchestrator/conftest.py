"""Fixtures of the orchestrator tests: a real PostgreSQL server on loopback.

The server is initialised into a temporary directory (as the ``postgres``
user when run as root, since PostgreSQL refuses to run as root), listens on
127.0.0.1 on a free port with its socket in that directory, and is stopped by
its pid at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("DISCOMY_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(argv: list) -> None:
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        pytest.fail(f"{Path(argv[0] if argv[0] != 'runuser' else argv[4]).name} failed: "
                    f"{proc.stdout.strip()[-500:]}")


def _as_postgres(argv: list) -> list:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class PostgresServer:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1 and a free port,
    started and stopped by its postmaster's pid (and started again on the same port)."""

    def __init__(self):
        if not (PG_BIN / "initdb").exists():
            pytest.fail(f"PostgreSQL is not installed in {PG_BIN} (set DISCOMY_PG_BIN)")
        # not under pytest's root-only tmp tree: the postgres user must reach it
        self.base = Path(tempfile.mkdtemp(prefix="discomy-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        self.pid = None
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
            os.chmod(self.base, 0o700)
        _run(_as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "discomy",
                           "--auth=trust", "-E", "UTF8", "--no-sync"]))

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://discomy@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        _run(_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l",
                           str(self.base / "log"), "-w", "-t", "60", "-o",
                           f"-h 127.0.0.1 -p {self.port} -k {self.base} -F", "start"]))
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        if self.pid is None:
            return
        os.kill(self.pid, signal.SIGINT)       # fast shutdown: sessions are cut
        for _ in range(300):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        self.pid = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url():
    """A SQLAlchemy URL of an empty database on a real PostgreSQL server."""
    server = PostgresServer()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def postgres_server():
    """A PostgreSQL server of the test's own, which the test may stop and start."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.remove()


_databases = iter(range(1, 1_000_000))


@pytest.fixture
def fresh_postgres_url(postgres_url):
    """A new, empty database on the session's PostgreSQL server."""
    from sqlalchemy import create_engine, text

    name = f"discomy_t{next(_databases)}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"



class SourceRepo:
    """A copy of the examples' source repository whose packages can be given variants
    of their spec, each built with ``rpmbuild -bs`` as a packager would."""

    def __init__(self, path: Path, scratch: Path):
        self.path, self.scratch = path, scratch

    def put(self, name: str, edit, replace: bool = True) -> Path:
        """The SRPM of ``edit(<name>.spec text)``, into the repository; ``replace`` drops
        the package's other SRPMs first."""
        from discomy.cli.examples import EXAMPLES_DIR
        from discomy.orchestration.rpmtools import createrepo

        if replace:
            for old in self.path.glob(f"{name}-*.src.rpm"):
                old.unlink()
        work = Path(tempfile.mkdtemp(dir=self.scratch, prefix=f"{name}-"))
        spec = work / f"{name}.spec"
        spec.write_text(edit((EXAMPLES_DIR / f"{name}.spec").read_text()))
        _run(["rpmbuild", "-bs", "--nodeps", "--define", f"_topdir {work}",
              "--define", "dist .el9", str(spec)])
        (srpm,) = (work / "SRPMS").glob("*.src.rpm")
        shutil.copy2(srpm, self.path / srpm.name)
        createrepo(self.path)
        return self.path / srpm.name


@pytest.fixture
def sources(tmp_path, example_repos):
    """A source repository of the examples that a test may change (see :class:`SourceRepo`)."""
    repo = tmp_path / "sources"
    shutil.copytree(example_repos.source_repo, repo)
    return SourceRepo(repo, tmp_path)
