"""Where the database is: the embedded server or DATABASE_URL; the owner engine; the broker URL."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine

from app import embedded_pg
from app.database import make_engine, normalise_url, safe_identifier


def owner_url(config: dict[str, object]) -> URL:
    """The owner's URL of the application database, creating the database when it is missing."""
    raw = config.get("DATABASE_URL")
    if raw:
        url = normalise_url(str(raw))
    else:
        server = embedded_pg.start(Path(str(config["MBOLO_DATA_DIR"])))
        url = server.set(database=str(config["MBOLO_DB_NAME"]))
    ensure_database(url, safe_identifier(url.database or ""))
    return url


def ensure_database(url: URL, name: str) -> None:
    maintenance = make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=None)
    try:
        with maintenance.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        maintenance.dispose()


def broker_url(config: dict[str, object], url: URL) -> str:
    """CELERY_BROKER_URL, or kombu's SQLAlchemy transport in a sibling database (durable, no extra
    server; kept apart so its tables never mix with the platform's schemas)."""
    if config.get("CELERY_BROKER_URL"):
        return str(config["CELERY_BROKER_URL"])
    name = f"{url.database}_broker"
    ensure_database(url, name)
    return "sqla+" + url.set(database=name).render_as_string(hide_password=False)


def owner_engine(app: Flask | None = None) -> Engine:
    """One owner engine per app: migrations and tenant provisioning."""
    app = app or current_app
    engine = app.extensions.get("mbolo_owner_engine")
    if engine is None:
        engine = make_engine(app.extensions["mbolo_owner_url"], pool_size=2, max_overflow=2)
        app.extensions["mbolo_owner_engine"] = engine
    return engine
