"""Settings from the environment, with safe production defaults.

MBOLO_ENV defaults to ``production``: a forgotten variable must fail closed (secure cookies, no debug,
no default secret). ``make run`` and the tests set ``development`` / ``test`` explicitly.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
        **_security_settings(env, production, secret or DEFAULT_SECRET),
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
        # Absolute lifetime of a staff session; MBOLO_IDLE_MINUTES ends it earlier when unused.
        "PERMANENT_SESSION_LIFETIME": int(env.get("MBOLO_SESSION_HOURS", "12")) * 3600,
        "WTF_CSRF_TIME_LIMIT": None,  # the session bounds it; agents keep forms open a long time
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Africa/Dakar",
        "MBOLO_LOCALES": ("fr", "en"),
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    }


def _derived_key(secret: str, purpose: str) -> bytes:
    """Development and test only: a per-purpose key derived from SECRET_KEY, so ``make run`` needs nothing."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()


def parse_keyring(raw: str) -> tuple[tuple[str, bytes], ...]:
    """``"k2=<base64 32 bytes>,k1=<…>"`` → ((kid, key), …); the first key encrypts, all decrypt."""
    keys = []
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        kid, sep, encoded = pair.partition("=")
        try:
            key = base64.urlsafe_b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4))
        except ValueError:
            key = b""
        if not sep or not kid.strip().isalnum() or len(key) != 32:
            raise ConfigurationError(
                "MBOLO_ENCRYPTION_KEYS: each entry is id=<32 bytes in base64>, e.g. k1=$(mbolo keys new)"
            )
        keys.append((kid.strip(), key))
    return tuple(keys)


def _security_settings(
    env: os._Environ[str] | dict[str, str], production: bool, secret: str
) -> dict[str, object]:
    audit_key = env.get("MBOLO_AUDIT_KEY", "")
    keyring = env.get("MBOLO_ENCRYPTION_KEYS", "")
    if production and len(audit_key) < 32:
        raise ConfigurationError("MBOLO_AUDIT_KEY must be set to a random value of at least 32 characters")
    if production and not keyring:
        raise ConfigurationError(
            "MBOLO_ENCRYPTION_KEYS must be set in production (see infra/mbolo.env.example)"
        )
    return {
        # Keys live outside the database: the audit chain's HMAC key and the AES-GCM keyring for secrets.
        "MBOLO_AUDIT_KEY": audit_key.encode() if audit_key else _derived_key(secret, "audit-chain"),
        "MBOLO_ENCRYPTION_KEYS": parse_keyring(keyring)
        if keyring
        else (("dev", _derived_key(secret, "encryption")),),
        # Public address of the site, for links made outside a request (``mbolo admin invite``).
        "MBOLO_BASE_URL": env.get("MBOLO_BASE_URL") or None,
        # The business date, fixed (ISO) for tests and demonstrations; unset in production.
        "MBOLO_TODAY": env.get("MBOLO_TODAY") or None,
        # Online payments still pending after this many minutes expire (the poller asks the provider first).
        "MBOLO_PAYMENT_EXPIRY_MINUTES": int(env.get("MBOLO_PAYMENT_EXPIRY_MINUTES", "30")),
        "MBOLO_VERIFY_RATE": env.get("MBOLO_VERIFY_RATE", "30 per minute"),
        "MBOLO_IDLE_MINUTES": int(env.get("MBOLO_IDLE_MINUTES", "30")),
        "MBOLO_STEPUP_MINUTES": int(env.get("MBOLO_STEPUP_MINUTES", "5")),
        "MBOLO_INVITATION_HOURS": int(env.get("MBOLO_INVITATION_HOURS", "72")),
        "MBOLO_RESET_MINUTES": int(env.get("MBOLO_RESET_MINUTES", "60")),
        # flask-limiter storage: memory:// fits the single-process embedded run; Redis behind gunicorn.
        "RATELIMIT_STORAGE_URI": env.get("MBOLO_RATELIMIT_STORAGE_URL") or "memory://",
        "MBOLO_SIGN_IN_RATE": env.get("MBOLO_SIGN_IN_RATE", "20 per minute;200 per hour"),
        "MBOLO_API_TOKEN_RATE": env.get("MBOLO_API_TOKEN_RATE", "30 per minute;300 per hour"),
        "MBOLO_SECURITY_ALERT_THRESHOLD": int(env.get("MBOLO_SECURITY_ALERT_THRESHOLD", "20")),
        "MBOLO_SECURITY_ALERT_WINDOW_MINUTES": int(env.get("MBOLO_SECURITY_ALERT_WINDOW_MINUTES", "15")),
        # Member portal: sign-in limits per address (default: the staff one) and per member number, sessions.
        "MBOLO_PORTAL_SIGN_IN_RATE": env.get("MBOLO_PORTAL_SIGN_IN_RATE") or None,
        "MBOLO_PORTAL_NUMBER_RATE": env.get("MBOLO_PORTAL_NUMBER_RATE", "5 per 10 minutes;20 per day"),
        "MBOLO_PORTAL_CODE_RATE": env.get("MBOLO_PORTAL_CODE_RATE", "10 per 10 minutes;30 per day"),
        "MBOLO_PORTAL_IDLE_MINUTES": int(env.get("MBOLO_PORTAL_IDLE_MINUTES", "30")),
        "MBOLO_PORTAL_SESSION_HOURS": int(env.get("MBOLO_PORTAL_SESSION_HOURS", "12")),
    }
