"""Files kept outside the database rows (photos, consent scans, uploaded registers, reports), under
``MBOLO_DATA_DIR/media/<tenant slug>/<category>/``. Rows store the relative path only; names are generated,
never taken from the upload, so a path can't escape its folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import current_app

from tenants.context import TenantRef
from tenants.slugs import validate_slug

CATEGORIES = frozenset({"photos", "consents", "imports", "reports", "exports"})


def media_root() -> Path:
    return Path(str(current_app.config["MBOLO_DATA_DIR"])) / "media"


def save_bytes(tenant: TenantRef, category: str, data: bytes, *, suffix: str) -> str:
    """Write ``data`` to a new file and return its path relative to the media root."""
    if category not in CATEGORIES or not suffix.isalnum():
        raise ValueError(f"bad media category or suffix: {category!r} {suffix!r}")
    relative = Path(validate_slug(tenant.slug)) / category / f"{secrets.token_hex(16)}.{suffix}"
    target = media_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    temporary.write_bytes(data)
    os.replace(temporary, target)  # atomic: a crash leaves no half-written file under the real name
    return relative.as_posix()


def path_of(tenant: TenantRef, relative: str) -> Path:
    """The absolute path of a stored file of ``tenant`` (refuses anything outside that tenant's folder)."""
    root = (media_root() / validate_slug(tenant.slug)).resolve()
    target = (media_root() / relative).resolve()
    if root not in target.parents:
        raise ValueError("media path outside the tenant's folder")
    return target
