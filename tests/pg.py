"""A real PostgreSQL for the store tests: ``SPINE_AUC_TEST_POSTGRES_URL`` if set, else a throw-away cluster.

The throw-away cluster is Debian's PostgreSQL: ``initdb`` into a temporary directory as the
``postgres`` system user (PostgreSQL refuses to run as root), ``postgres -k <tmp> -h 127.0.0.1 -p <free
port>``, one database created; stopped and removed at the end of the session. Missing binaries fail
the run when ``SPINE_AUC_REQUIRE_POSTGRES=1`` (CI) and skip otherwise, with that reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

DB_NAME = "spine_auc_test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _ensure_postgres_user() -> None:
    if os.geteuid() != 0:
        return
    if subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)


def _unavailable(reason: str) -> None:
    if os.environ.get("SPINE_AUC_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required (SPINE_AUC_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(f"PostgreSQL not available: {reason}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A ``postgresql+psycopg://`` URL of an empty database on a real server."""
    given = os.environ.get("SPINE_AUC_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bindir = _bindir()
    if bindir is None:
        _unavailable("no initdb found (apt-get install postgresql)")
        return
    _ensure_postgres_user()
    root = tempfile.mkdtemp(prefix="spine-auc-pg-")
    os.chmod(root, 0o755)
    data = os.path.join(root, "data")
    os.mkdir(data)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = _free_port()
    log_path = os.path.join(root, "postgres.log")
    subprocess.run(
        _as_postgres([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            _as_postgres(
                [f"{bindir}/postgres", "-D", data, "-k", root, "-h", "127.0.0.1", "-p", str(port), "-F"]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
                ) as conn:
                    conn.execute(f"CREATE DATABASE {DB_NAME}")
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    with open(log_path, encoding="utf-8", errors="replace") as handle:
                        pytest.fail("PostgreSQL did not start:\n" + handle.read()[-2000:])
                time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DB_NAME}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)
