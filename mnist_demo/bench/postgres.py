"""A throwaway PostgreSQL server for the classroom's tests and ``bench class``.

``initdb`` into a temporary folder, ``pg_ctl start`` on a free loopback port (and a socket in the
same folder), trust authentication, one database; stopped and removed on exit, error or not.
PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` system user (Debian's
``postgresql`` package makes it) through ``runuser``. Nothing is installed or downloaded here:
:func:`available` says whether this machine has the binaries.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

SYSTEM_USER = "postgres"
DATABASE = "mnist_demo"
# Debian keeps each major version's server binaries out of PATH.
BINARY_FOLDERS = "/usr/lib/postgresql/*/bin"


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: the newest Debian version, else PATH's."""
    folders = sorted(glob.glob(BINARY_FOLDERS), key=lambda folder: int(folder.split("/")[-2]))
    for folder in reversed(folders):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    found = shutil.which("pg_ctl")
    if found and (Path(found).parent / "initdb").is_file():
        return Path(found).parent
    return None


def running_as_root() -> bool:
    return os.geteuid() == 0


def available() -> bool:
    """Whether a throwaway server can start here: the binaries, and as root a ``postgres``
    user and ``runuser`` to become it."""
    if binaries() is None:
        return False
    if not running_as_root():
        return True
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        return False
    return shutil.which("runuser") is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SYSTEM_USER, "--", *command] if running_as_root() else command


def run(command: list[str], what: str) -> None:
    done = subprocess.run(as_server_user(command), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"PostgreSQL {what} failed: {(done.stderr or done.stdout).strip()}")


@contextlib.contextmanager
def throwaway_postgres(durable: bool = True) -> Iterator[str]:
    """Start a server and yield a ``postgresql+psycopg://`` URL to an empty database.

    ``durable`` False turns off fsync (tests: faster, and nothing there must survive a crash of
    the machine); the benchmark keeps it on, as a real server would.
    """
    folder_bin = binaries()
    if folder_bin is None or not available():
        raise RuntimeError("no PostgreSQL server here (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="mnist-demo-pg-"))
    if running_as_root():
        shutil.chown(root, SYSTEM_USER)
    data, port = root / "data", free_port()
    try:
        run([str(folder_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--no-sync"], "initdb")  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        run([str(folder_bin / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
             "-o", options, "-w", "-t", "60", "start"], "start")  # fmt: skip
        try:
            run([str(folder_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                 "-U", "postgres", DATABASE], "createdb")  # fmt: skip
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE}"
        finally:
            subprocess.run(
                as_server_user(
                    [str(folder_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),  # fmt: skip
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
