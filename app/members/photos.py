"""Members' photos and scanned consent forms, stored as files under the media directory (``app.media``).

An upload is never kept as sent: a photo is decoded, turned upright (EXIF orientation), converted to RGB and
saved again as a small JPEG, which drops its metadata (GPS position included) and anything hidden in the
file. A scan is either a PDF (kept as is, served only as a download) or an image re-encoded the same way.
The file written for a refused change is removed when the transaction rolls back, and the file a change
replaces is removed once it commits, so the media folder holds what the rows point to.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from pathlib import Path

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps
from sqlalchemy import event
from sqlalchemy.orm import Session, scoped_session
from werkzeug.datastructures import FileStorage

from app.audit.services import record_event
from app.errors import FieldError
from app.media import path_of, save_bytes
from app.members import services
from app.members.models import Consent, Member
from app.security.actor import Actor
from tenants.context import TenantRef

PHOTO_MAX_BYTES = 6 * 1024 * 1024  # a phone's full-size photo; MAX_CONTENT_LENGTH caps requests at 10 MB
SCAN_MAX_BYTES = 9 * 1024 * 1024
PHOTO_BOX = (480, 600)
SCAN_BOX = (2000, 2800)  # an A4 page at ≈ 240 dpi: signatures stay legible
#: Refuse before decoding anything bigger (a "decompression bomb" is a small file of huge dimensions).
MAX_PIXELS = 50_000_000
IMAGE_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
_IMAGE_SUFFIXES = {"jpg", "jpeg", "jfif", "png", "webp"}
PHOTO_TYPES = _l("Format non accepté : envoyez une photo JPEG, PNG ou WebP.")
SCAN_TYPES = _l("Format non accepté : envoyez le formulaire signé en PDF ou en photo (JPEG, PNG ou WebP).")


def _read(upload: FileStorage | None, field: str, limit: int) -> bytes:
    if upload is None or not upload.filename:
        raise FieldError(field, _l("Choisissez un fichier."))
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise FieldError(
            field, _l("Fichier trop volumineux : %(size)s Mo au plus.", size=limit // (1024 * 1024))
        )
    if not data:
        raise FieldError(field, _l("Le fichier est vide."))
    return data


def _maybe_image(upload: FileStorage, data: bytes) -> bool:
    """Announced as an image (name or type) or starting like one: else the type is plainly wrong. Only a
    hint: decoding decides."""
    suffix = Path(upload.filename or "").suffix.lower().lstrip(".")
    announced = suffix in _IMAGE_SUFFIXES or (upload.mimetype or "").startswith("image/")
    magic = data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")) or data[8:12] == b"WEBP"
    return announced or magic


def reencode(
    data: bytes, box: tuple[int, int], *, quality: int, field: str, wrong_type: object = PHOTO_TYPES
) -> bytes:
    """An upright RGB JPEG fitting ``box``, from JPEG, PNG or WebP bytes; else a ``FieldError``."""
    too_big = FieldError(field, _l("Image trop grande : réduisez-la avant de l'envoyer."))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in IMAGE_FORMATS:
                raise FieldError(field, wrong_type)
            if probe.width * probe.height > MAX_PIXELS:
                raise too_big
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (box[0] * 2, box[0] * 2))  # JPEG: decode at a reduced scale, much faster
            upright = ImageOps.exif_transpose(image)
            rgb = _on_white(upright)
            rgb.thumbnail(box, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            rgb.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    except FieldError:
        raise
    except Image.DecompressionBombError as error:
        raise too_big from error
    except Exception as error:  # anything a crafted or broken file makes a decoder raise
        raise FieldError(field, _l("Cette image est illisible ou abîmée : reprenez la photo.")) from error
    return out.getvalue()


def _on_white(image: Image.Image) -> Image.Image:
    """RGB; a transparent background becomes white (not black, as a plain conversion would make it)."""
    if image.mode in {"RGBA", "LA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def _real(session: Session | scoped_session[Session]) -> Session:
    return session() if isinstance(session, scoped_session) else session


def _after_outcome(session: Session, tenant: TenantRef, *, on_commit: str | None, on_rollback: str) -> None:
    """Remove ``on_commit`` (the replaced file) after the commit, or ``on_rollback`` (the new file) after a
    rollback; whichever comes first disarms the other."""
    real, done = _real(session), {"value": False}

    def remove(relative: str | None) -> Callable[[Session], None]:
        def listener(_session: Session) -> None:
            if done["value"]:
                return
            done["value"] = True
            if relative:  # a file left over would be harmless: no row points to it
                with contextlib.suppress(OSError, ValueError):
                    path_of(tenant, relative).unlink(missing_ok=True)

        return listener

    event.listen(real, "after_commit", remove(on_commit), once=True)
    event.listen(real, "after_rollback", remove(on_rollback), once=True)


def store_photo(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, upload: FileStorage | None
) -> str:
    """Check, shrink and store ``member``'s photo; returns its media path. Refusals name the field "photo"."""
    services.check_member_scope(session, actor, member, "members.manage")
    data = _read(upload, "photo", PHOTO_MAX_BYTES)
    assert upload is not None
    if not _maybe_image(upload, data):
        raise FieldError("photo", PHOTO_TYPES)
    jpeg = reencode(data, PHOTO_BOX, quality=80, field="photo")
    relative = save_bytes(tenant, "photos", jpeg, suffix="jpg")
    before = member.photo_path
    member.photo_path = relative
    session.flush()
    _after_outcome(session, tenant, on_commit=before, on_rollback=relative)
    record_event(
        session, actor, "members.photo_updated", target_type="member", target_id=member.number,
        before={"photo_path": before}, after={"photo_path": relative},
    )  # fmt: skip
    return relative


def photo_file(tenant: TenantRef, member: Member) -> Path | None:
    """The stored photo's file, if there is one."""
    if not member.photo_path:
        return None
    try:
        path = path_of(tenant, member.photo_path)
    except ValueError:
        return None
    return path if path.is_file() else None


def store_consent_scan(
    session: Session, tenant: TenantRef, actor: Actor, consent: Consent, upload: FileStorage | None
) -> str:
    """Keep the scanned, signed consent paper (PDF, or a photo of it) with the consent it proves."""
    member = session.get(Member, consent.member_id)
    assert member is not None
    services.check_member_scope(session, actor, member, "members.manage")
    data = _read(upload, "scan", SCAN_MAX_BYTES)
    assert upload is not None
    if data.startswith(b"%PDF-"):
        stored, suffix = data, "pdf"
    elif _maybe_image(upload, data):
        stored, suffix = reencode(data, SCAN_BOX, quality=85, field="scan", wrong_type=SCAN_TYPES), "jpg"
    else:
        raise FieldError("scan", SCAN_TYPES)
    relative = save_bytes(tenant, "consents", stored, suffix=suffix)
    before = consent.scan_path
    consent.scan_path = relative
    session.flush()
    _after_outcome(session, tenant, on_commit=before, on_rollback=relative)
    record_event(
        session, actor, "members.consent_scan_stored", target_type="member", target_id=member.number,
        consent=consent.public_id, before={"scan_path": before}, after={"scan_path": relative},
    )  # fmt: skip
    return relative


def scan_file(tenant: TenantRef, consent: Consent) -> Path | None:
    if not consent.scan_path:
        return None
    try:
        path = path_of(tenant, consent.scan_path)
    except ValueError:
        return None
    return path if path.is_file() else None
