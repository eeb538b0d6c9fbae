"""A complaint's optional photo (a prescription refused, a receipt, a queue at the counter): checked and
re-encoded like members' photos (``app.members.photos``: size limit, real image type, upright RGB JPEG
without its metadata — GPS position included), stored under the mutual's media folder, removed again if the
filing rolls back."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app.errors import FieldError
from app.media import path_of, save_bytes
from app.members.photos import PHOTO_MAX_BYTES, PHOTO_TYPES, _after_outcome, _maybe_image, _read, reencode
from tenants.context import TenantRef

#: Legible enough for a document photographed with a phone, small enough for 3G.
BOX = (1280, 1280)


def store_photo(session: Session, tenant: TenantRef, upload: FileStorage) -> str:
    """Check, shrink and store the photo; returns its media path. Refusals name the field "photo"."""
    data = _read(upload, "photo", PHOTO_MAX_BYTES)
    if not _maybe_image(upload, data):
        raise FieldError("photo", PHOTO_TYPES)
    jpeg = reencode(data, BOX, quality=78, field="photo")
    relative = save_bytes(tenant, "photos", jpeg, suffix="jpg")
    _after_outcome(session, tenant, on_commit=None, on_rollback=relative)
    return relative


def photo_file(tenant: TenantRef, photo_path: str | None) -> Path | None:
    if not photo_path:
        return None
    try:
        path = path_of(tenant, photo_path)
    except ValueError:
        return None
    return path if path.is_file() else None
