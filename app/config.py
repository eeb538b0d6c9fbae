"""Settings from the environment, with safe production defaults.

MBOLO_ENV defaults to ``production``: a forgotten variable must fail closed (secure cookies, no debug,
no default secret). ``make run`` and the tests set ``development`` / ``test`` explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SECRET = "dev-only-not-secret"  # noqa: S105 - the value production refuses
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """The environment does not describe a safe, runnable platform."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def parse_tenant_hosts(raw: str) -> dict[str, str]:
    """``"a.example.sn=artisanat,b.example.sn=commerce"`` → ``{host: slug}``."""
    hosts: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        host, sep, slug = pair.partition("=")
        if not sep or not host.strip() or not slug.strip():
            raise ConfigurationError(f"MBOLO_TENANT_HOSTS: entrée invalide « {pair} » (hôte=slug)")
        hosts[host.strip().lower()] = slug.strip()
    return hosts


def data_dir(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """Where the embedded database and files live (needs no secret: used to start and stop the database)."""
    env = os.environ if environ is None else environ
    return Path(env.get("MBOLO_DATA_DIR") or PROJECT_ROOT / "var").resolve()


def load_config(environ: os._Environ[str] | dict[str, str] | None = None) -> dict[str, object]:
    """Read every setting the platform knows from ``environ``."""
    env = os.environ if environ is None else environ
    mode = env.get("MBOLO_ENV", "production")
    if mode not in {"production", "development", "test"}:
        raise ConfigurationError(f"MBOLO_ENV must be production, development or test, not {mode!r}")
    production = mode == "production"
    secret = env.get("SECRET_KEY", "")
    if production and (not secret or secret == DEFAULT_SECRET or len(secret) < 32):
        raise ConfigurationError(
            "SECRET_KEY must be set to a random value of at least 32 characters in production"
        )
    return {
        "MBOLO_ENV": mode,
        "TESTING": mode == "test",
        "SECRET_KEY": secret or DEFAULT_SECRET,
        "MBOLO_DATA_DIR": data_dir(env),
        # Unset: embedded PostgreSQL (pgserver) under MBOLO_DATA_DIR/pg.
        "DATABASE_URL": env.get("DATABASE_URL") or None,
        "MBOLO_DB_NAME": env.get("MBOLO_DB_NAME", "mbolo"),
        "MBOLO_APP_DB_PASSWORD": env.get("MBOLO_APP_DB_PASSWORD") or None,
        # Unset: kombu's SQLAlchemy transport on the same PostgreSQL server (durable, no extra server).
        "CELERY_BROKER_URL": env.get("CELERY_BROKER_URL") or None,
        "MBOLO_TENANT_HOSTS": parse_tenant_hosts(env.get("MBOLO_TENANT_HOSTS", "")),
        "SESSION_COOKIE_SECURE": _flag(env.get("MBOLO_SESSION_COOKIE_SECURE"), production),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _flag(env.get("MBOLO_SESSION_COOKIE_SECURE"), production),
        "PERMANENT_SESSION_LIFETIME": int(env.get("MBOLO_SESSION_HOURS", "12")) * 3600,
        "WTF_CSRF_TIME_LIMIT": None,  # the session bounds it; agents keep forms open a long time
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Africa/Dakar",
        "MBOLO_LOCALES": ("fr", "en"),
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    }
