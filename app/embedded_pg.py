"""The embedded PostgreSQL server (``pgserver``) used when DATABASE_URL is unset.

Data lives under ``<MBOLO_DATA_DIR>/pg`` and survives restarts. The server keeps running between commands
(``cleanup_mode=None``) so the CLI, the web process and the worker share it; ``mbolo db stop`` (and the end of
``mbolo run``) stops it cleanly with ``pg_ctl stop``.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from sqlalchemy.engine import URL

log = logging.getLogger(__name__)


def _pgdata(data_dir: Path) -> Path:
    path = data_dir / "pg"
    path.mkdir(parents=True, exist_ok=True)
    return path


def start(data_dir: Path) -> URL:
    """Start (or reuse) the embedded server; return the superuser URL of its ``postgres`` database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR in containers
        import pgserver

        server = pgserver.get_server(_pgdata(data_dir), cleanup_mode=None)
        socket_dir = server.get_postmaster_info().socket_dir
    return URL.create(
        "postgresql+psycopg", username="postgres", database="postgres", query={"host": str(socket_dir)}
    )


def is_running(data_dir: Path) -> bool:
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir / "pg")
    return bool(info and info.is_running())


def stop(data_dir: Path) -> bool:
    """Stop the embedded server if it runs; return whether it was running."""
    from pgserver._commands import pg_ctl
    from pgserver.postgres_server import PostgresServer

    if not is_running(data_dir):
        return False
    server_user = "pgserver" if _running_as_root() else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir / "pg", user=server_user)
    PostgresServer._instances.pop(data_dir / "pg", None)
    return True


def _running_as_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
