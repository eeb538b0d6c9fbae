"""Member cards: the signed token behind each card's QR code, the mutual's signing keys, and the PDFs.

**Token format.** A JWS in compact serialisation (RFC 7515) signed with EdDSA over Ed25519 (RFC 8037), so a
care provider's app verifies it with any JOSE library, offline, from the mutual's published keys::

    base64url(header) "." base64url(payload) "." base64url(signature over "header.payload")
    header  = {"alg":"EdDSA","kid":"<key id>"}
    payload = {"iss":"<mutual slug>","sub":"<member number>","iat":<issued at>,"exp":<expires at>}

Times are Unix seconds; ``exp`` is the end of the card's last valid day (valid until D → D+1 at 00:00 in
Africa/Dakar, which is UTC all year). The token holds nothing personal: the mutual, a member number and two
dates (≈ 230 characters). The QR code holds the verification address ``<site>/<slug>/verify/<token>``: a
phone camera opens the verify page; a provider's app takes the last path segment and checks it with the
keys of ``<site>/<slug>/verify/cle`` (JWKS: ``{"keys": [{"kty": "OKP", "crv": "Ed25519", "x": …,
"kid": …, "alg": "EdDSA", "use": "sig"}]}``). ``verify_token`` accepts only ``alg`` EdDSA.

**Keys.** One Ed25519 key pair per mutual in its ``card_keys`` table, made on first need; the private key
(raw 32 bytes) is sealed with ``app.security.crypto`` under AAD ``card-key:<slug>:<kid>``, the public key
kept in clear. The newest active key signs; every active key verifies; a retired key verifies nothing
(``rotate_key(..., revoke_previous=True)`` after a leak: its cards must be printed again). The key id is
the start of the key's RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import hashlib
import io
import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from PIL import Image
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_event
from app.database import utcnow
from app.errors import NotFound
from app.media import path_of
from app.members import services
from app.members.models import CardKey, Member, MemberStatus
from app.members.rules import RELATIONSHIP_LABELS, member_rules
from app.security import crypto
from app.security.actor import Actor
from hierarchy.models import Node
from tenants.context import TenantRef

#: Statuses whose cards read "valid" (and are printed): covered and not suspended.
CARD_STATUSES = (MemberStatus.active, MemberStatus.pending)
#: Cards per PDF of an association's batch (20 A4 sheets: a print run a small office can handle).
BATCH_SIZE = 200
#: fpdf2 compresses page streams; tests turn it off to find the printed text in the bytes.
PDF_COMPRESSION = True
#: Advisory-lock namespace ("MBC") serialising the creation of a mutual's first key.
_LOCK_NAMESPACE = 0x4D4243
_MAX_TOKEN = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# --- keys --------------------------------------------------------------------------------------------------


def _aad(tenant: TenantRef, kid: str) -> bytes:
    return f"card-key:{tenant.slug}:{kid}".encode()


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The first 10 characters of the key's RFC 7638 JWK thumbprint: stable, short, derived from the key."""
    canonical = _json({"crv": "Ed25519", "kty": "OKP", "x": _b64(_raw_public(key))})
    return _b64(hashlib.sha256(canonical).digest())[:10]


def active_keys(session: Session) -> list[CardKey]:
    """The keys that verify, newest (the signing one) first."""
    return list(
        session.scalars(select(CardKey).where(CardKey.retired_at.is_(None)).order_by(CardKey.id.desc()))
    )


def _new_key(session: Session, tenant: TenantRef, actor: Actor) -> CardKey:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    kid = key_id(public)
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    row = CardKey(
        kid=kid,
        public_key_pem=public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii"),
        private_key_ciphertext=crypto.encrypt(raw, aad=_aad(tenant, kid)),
    )
    session.add(row)
    session.flush()
    record_event(session, actor, "members.card_key_created", target_type="card_key", target_id=kid)
    return row


def _lock_keys(session: Session, tenant: TenantRef) -> None:
    """Two first prints at once must not make two keys: one waits for the other's commit."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
        {"ns": _LOCK_NAMESPACE, "name": f"card-key:{tenant.slug}"},
    )


def signing_key(session: Session, tenant: TenantRef, actor: Actor | None = None) -> CardKey:
    """The mutual's current key, created (and audited) on first need."""
    keys = active_keys(session)
    if keys:
        return keys[0]
    _lock_keys(session, tenant)
    keys = active_keys(session)  # made by whoever held the lock before us
    return keys[0] if keys else _new_key(session, tenant, actor or Actor.system("cartes"))


def rotate_key(
    session: Session, tenant: TenantRef, actor: Actor, *, revoke_previous: bool = False
) -> CardKey:
    """A new signing key; older ones keep verifying the cards they signed unless ``revoke_previous``."""
    _lock_keys(session, tenant)
    retired = []
    if revoke_previous:
        for key in active_keys(session):
            key.retired_at = utcnow()
            retired.append(key.kid)
    row = _new_key(session, tenant, actor)
    record_event(
        session, actor, "members.card_key_rotated", target_type="card_key", target_id=row.kid,
        after={"kid": row.kid, "revoked": retired},
    )  # fmt: skip
    return row


def reencrypt_keys(
    session: Session, tenant: TenantRef, actor: Actor, *, keys: crypto.Keyring | None = None
) -> int:
    """Re-seal the private keys not under the current MBOLO_ENCRYPTION_KEYS key (``mbolo keys rotate``, per
    mutual); how many were."""
    rows = [
        row
        for row in session.scalars(select(CardKey).order_by(CardKey.id).with_for_update())
        if crypto.needs_rotation(row.private_key_ciphertext, keys)
    ]
    for row in rows:
        row.private_key_ciphertext = crypto.reencrypt(
            row.private_key_ciphertext, aad=_aad(tenant, row.kid), keys=keys
        )
    session.flush()
    if rows:
        record_event(session, actor, "members.card_keys_resealed", count=len(rows))
    return len(rows)


def jwks(session: Session) -> dict[str, list[dict[str, str]]]:
    """The public keys that verify cards today, as a JSON Web Key Set (RFC 7517 / 8037)."""
    keys = []
    for row in active_keys(session):
        public = serialization.load_pem_public_key(row.public_key_pem.encode())
        assert isinstance(public, Ed25519PublicKey)
        keys.append(
            {"kty": "OKP", "crv": "Ed25519", "x": _b64(_raw_public(public)), "kid": row.kid, "alg": "EdDSA",
             "use": "sig"}
        )  # fmt: skip
    return {"keys": keys}


def keys_from_jwks(document: Mapping[str, object]) -> dict[str, Ed25519PublicKey]:
    """kid → public key, from a JWKS as ``/verify/cle`` serves it (for offline checks)."""
    found: dict[str, Ed25519PublicKey] = {}
    for entry in document.get("keys") or []:  # type: ignore[union-attr]
        if isinstance(entry, dict) and entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519":
            found[str(entry["kid"])] = Ed25519PublicKey.from_public_bytes(_unb64(str(entry["x"])))
    return found


# --- tokens ------------------------------------------------------------------------------------------------


def _end_of(day: dt.date) -> int:
    return calendar.timegm((day + dt.timedelta(days=1)).timetuple())


@dataclass(frozen=True)
class CardSigner:
    """Signs many cards with one decryption of the private key (an association's batch)."""

    tenant: TenantRef
    kid: str
    private_key: Ed25519PrivateKey

    def token(self, number: str, *, valid_until: dt.date, issued_at: dt.datetime | None = None) -> str:
        header = _b64(_json({"alg": "EdDSA", "kid": self.kid}))
        issued = int((issued_at or utcnow()).timestamp())
        payload = _b64(
            _json({"iss": self.tenant.slug, "sub": number, "iat": issued, "exp": _end_of(valid_until)})
        )
        signature = self.private_key.sign(f"{header}.{payload}".encode("ascii"))
        return f"{header}.{payload}.{_b64(signature)}"


def signer(session: Session, tenant: TenantRef, actor: Actor | None = None) -> CardSigner:
    key = signing_key(session, tenant, actor)
    raw = crypto.decrypt(key.private_key_ciphertext, aad=_aad(tenant, key.kid))
    return CardSigner(tenant, key.kid, Ed25519PrivateKey.from_private_bytes(raw))


def card_token(
    session: Session, tenant: TenantRef, member: Member, *, valid_until: dt.date, actor: Actor | None = None
) -> str:
    """The signed token of ``member``'s card (see the module docstring for its format)."""
    return signer(session, tenant, actor).token(member.number, valid_until=valid_until)


@dataclass(frozen=True)
class TokenCheck:
    valid: bool
    #: ok | malformed | wrong_tenant | unknown_key | bad_signature | expired
    reason: str
    #: Set only once the signature holds (an unchecked payload is not believed).
    number: str | None = None
    valid_until: dt.date | None = None
    issued_at: dt.datetime | None = None


def _refused(reason: str) -> TokenCheck:
    return TokenCheck(valid=False, reason=reason)


def verify_token(
    session: Session | None,
    tenant: TenantRef,
    token: str,
    *,
    keys: Mapping[str, Ed25519PublicKey] | None = None,
    now: dt.datetime | None = None,
) -> TokenCheck:
    """Check a card token against the mutual's keys (from its table, or ``keys`` offline): shape, mutual,
    key, signature, then expiry."""
    try:
        if len(token) > _MAX_TOKEN:
            raise ValueError("too long")
        header_part, payload_part, signature_part = token.split(".")
        header = json.loads(_unb64(header_part))
        payload = json.loads(_unb64(payload_part))
        signature = _unb64(signature_part)
        kid, issuer, number = str(header["kid"]), str(payload["iss"]), str(payload["sub"])
        issued, expires = int(payload["iat"]), int(payload["exp"])
        if header.get("alg") != "EdDSA":
            raise ValueError("algorithm")
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, UnicodeError):
        return _refused("malformed")
    if issuer != tenant.slug:
        return _refused("wrong_tenant")
    public = keys.get(kid) if keys is not None else _stored_key(session, kid)
    if public is None:
        return _refused("unknown_key")
    try:
        public.verify(signature, f"{header_part}.{payload_part}".encode("ascii"))
    except InvalidSignature:
        return _refused("bad_signature")
    valid_until = dt.datetime.fromtimestamp(expires - 1, dt.UTC).date()
    issued_at = dt.datetime.fromtimestamp(issued, dt.UTC)
    expired = (now or utcnow()).timestamp() >= expires
    return TokenCheck(not expired, "expired" if expired else "ok", number, valid_until, issued_at)


def _stored_key(session: Session | None, kid: str) -> Ed25519PublicKey | None:
    if session is None:
        raise ValueError("verify_token needs a session or the keys")
    row = session.scalar(select(CardKey).where(CardKey.kid == kid, CardKey.retired_at.is_(None)))
    if row is None:
        return None
    public = serialization.load_pem_public_key(row.public_key_pem.encode())
    return public if isinstance(public, Ed25519PublicKey) else None


# --- the verify page ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardCheck:
    """What the public verify page may say: one of valid | expired | inactive | invalid, and whose card."""

    outcome: str
    member: Member | None = None
    valid_until: dt.date | None = None

    @property
    def valid(self) -> bool:
        return self.outcome == "valid"


def check_card(session: Session, tenant: TenantRef, token: str) -> CardCheck:
    """The token's verdict joined to the register: the member must still exist and be covered."""
    token_check = verify_token(session, tenant, token)
    if token_check.number is None:
        return CardCheck("invalid")
    member = session.scalar(select(Member).where(Member.number == token_check.number))
    if member is None:
        return CardCheck("invalid")
    if member.status not in CARD_STATUSES:
        return CardCheck("inactive", member, token_check.valid_until)
    if not token_check.valid:
        return CardCheck("expired", member, token_check.valid_until)
    return CardCheck("valid", member, token_check.valid_until)


def verify_card(session: Session, tenant: TenantRef, actor: Actor, token: str) -> CardCheck:
    """Check a scanned card and audit the check (who asked is usually anonymous: a provider's phone)."""
    result = check_card(session, tenant, token)
    record_event(
        session, actor, "members.card_verified", target_type="member",
        target_id=result.member.number if result.member else None,
        outcome="success" if result.valid else "refused", result=result.outcome,
    )  # fmt: skip
    return result


# --- card PDFs ---------------------------------------------------------------------------------------------

#: Characters outside latin-1 that names and mutual names may hold (fpdf2's core fonts are latin-1 only).
_LATIN1 = str.maketrans({"œ": "oe", "Œ": "OE", "’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-",
                         "…": "...", "€": "EUR", "\u00a0": " ", "\u202f": " "})  # fmt: skip


def latin1(value: object) -> str:
    """``value`` printable with a core font: known look-alikes, then accents dropped, then "?"."""
    out = []
    for char in str(value).translate(_LATIN1):
        if ord(char) < 256:
            out.append(char)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256)
        out.append(base or "?")
    return "".join(out)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months (the 31st becomes the month's last day)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class CardFace:
    """What one printed card shows."""

    mutual: str
    last_name: str
    first_names: str
    number: str
    relationship: str
    valid_until: dt.date
    photo: Path | None
    link: str  # the QR code's content


def card_faces(
    session: Session,
    tenant: TenantRef,
    members: Sequence[Member],
    *,
    link: Callable[[str], str],
    actor: Actor | None = None,
    today: dt.date | None = None,
) -> list[CardFace]:
    """A fresh token per card, valid ``card_validity_months`` from today; ``link`` turns it into the QR's
    address (the view passes its ``url_for``)."""
    if not members:
        return []
    valid_until = add_months(today or clock.today(), member_rules(session, tenant).card_validity_months)
    sign = signer(session, tenant, actor)
    faces = []
    for member in members:
        photo = None
        if member.photo_path:
            try:
                photo = path_of(tenant, member.photo_path)
            except ValueError:
                photo = None
        faces.append(
            CardFace(
                mutual=tenant.name, last_name=member.last_name, first_names=member.first_names,
                number=member.number, relationship=str(RELATIONSHIP_LABELS[str(member.relation)]),
                valid_until=valid_until, photo=photo if photo and photo.is_file() else None,
                link=link(sign.token(member.number, valid_until=valid_until)),
            )
        )  # fmt: skip
    return faces


CARD_W, CARD_H = 85.6, 54.0  # ISO/IEC 7810 ID-1, mm
_ACCENT = (11, 110, 79)
_COLUMNS, _ROWS, _GAP_X, _GAP_Y = 2, 5, 6.0, 3.0
PER_SHEET = _COLUMNS * _ROWS


def _pdf(fmt: str | tuple[float, float]) -> FPDF:
    pdf = FPDF(unit="mm", format=fmt)
    pdf.set_compression(PDF_COMPRESSION)
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_creator("Mbolo")
    return pdf


def _print_photo(path: Path) -> io.BytesIO | None:
    """A print-sized copy (≈ 300 dpi at 18 mm wide): keeps a 200-card PDF to a few megabytes."""
    try:
        with Image.open(path) as image:
            image.draft("RGB", (240, 300))
            copy = image.convert("RGB")
            copy.thumbnail((240, 300))
            out = io.BytesIO()
            copy.save(out, "JPEG", quality=75)
    except (OSError, ValueError):
        return None
    out.seek(0)
    return out


def _qr(link: str) -> io.BytesIO:
    out = io.BytesIO()
    segno.make(link, error="m", micro=False).save(out, kind="png", scale=4, border=0)
    out.seek(0)
    return out


def _fit(pdf: FPDF, value: str, width: float, size: float, style: str = "") -> None:
    """Shrink the font until ``value`` fits ``width`` (long names stay on one line)."""
    pdf.set_font("Helvetica", style, size)
    while size > 5 and pdf.get_string_width(value) > width:
        size -= 0.5
        pdf.set_font("Helvetica", style, size)


def _draw_card(pdf: FPDF, face: CardFace, x: float, y: float) -> None:
    """One card with its top-left corner at (x, y)."""
    pdf.set_fill_color(*_ACCENT)
    pdf.rect(x, y, CARD_W, 8, style="F")
    pdf.set_text_color(255, 255, 255)
    _fit(pdf, latin1(face.mutual), CARD_W - 34, 8.5, "B")
    pdf.text(x + 3, y + 5.4, latin1(face.mutual))
    pdf.set_font("Helvetica", "", 6)
    title = latin1(_("Carte de membre"))
    pdf.text(x + CARD_W - 3 - pdf.get_string_width(title), y + 5.2, title)
    pdf.set_text_color(29, 42, 47)
    # Photo (18 × 22.5 mm), or a neutral box to paste one on.
    photo = _print_photo(face.photo) if face.photo else None
    if photo is not None:
        pdf.image(photo, x=x + 3, y=y + 10.5, w=18, h=22.5)
    else:
        pdf.set_draw_color(180, 190, 194)
        pdf.set_fill_color(238, 242, 243)
        pdf.rect(x + 3, y + 10.5, 18, 22.5, style="DF")
        pdf.set_font("Helvetica", "", 5)
        pdf.set_text_color(91, 107, 112)
        label = latin1(_("Photo"))
        pdf.text(x + 12 - pdf.get_string_width(label) / 2, y + 22.5, label)
        pdf.set_text_color(29, 42, 47)
    # Names, relationship.
    text_x, text_w = x + 24, CARD_W - 24 - 29
    _fit(pdf, latin1(face.last_name), text_w, 9, "B")
    pdf.text(text_x, y + 14.5, latin1(face.last_name))
    _fit(pdf, latin1(face.first_names), text_w, 8)
    pdf.text(text_x, y + 19, latin1(face.first_names))
    pdf.set_font("Helvetica", "", 7)
    pdf.set_text_color(91, 107, 112)
    pdf.text(text_x, y + 24, latin1(face.relationship))
    pdf.set_text_color(29, 42, 47)
    # QR code (26 mm, its quiet zone is the card's white).
    pdf.image(_qr(face.link), x=x + CARD_W - 29, y=y + 10, w=26, h=26)
    # Number and validity across the bottom.
    pdf.set_font("Courier", "B", 10.5)
    pdf.text(x + 3, y + 42, face.number)
    pdf.set_font("Helvetica", "", 7)
    until = latin1(_("Valide jusqu'au %(date)s", date=face.valid_until.strftime("%d/%m/%Y")))
    pdf.text(x + 3, y + 47.5, until)
    pdf.set_font("Helvetica", "", 5.5)
    pdf.set_text_color(91, 107, 112)
    hint = latin1(_("Vérifier : scanner le code"))
    pdf.text(x + CARD_W - 3 - pdf.get_string_width(hint), y + 47.5, hint)
    pdf.set_text_color(29, 42, 47)


def card_pdf(face: CardFace) -> bytes:
    """One card on a card-sized page (for a card printer)."""
    pdf = _pdf((CARD_W, CARD_H))
    pdf.add_page()
    _draw_card(pdf, face, 0, 0)
    return bytes(pdf.output())


def _crop_marks(pdf: FPDF, x: float, y: float) -> None:
    """A faint outline and corner marks in the gutters, for scissors or a guillotine."""
    pdf.set_line_width(0.1)
    pdf.set_draw_color(200, 206, 209)
    pdf.rect(x, y, CARD_W, CARD_H)
    pdf.set_draw_color(90, 90, 90)
    mark = 2.0
    for cx, dx in ((x, -1), (x + CARD_W, 1)):
        for cy, dy in ((y, -1), (y + CARD_H, 1)):
            pdf.line(cx + dx * 0.5, cy, cx + dx * (0.5 + mark), cy)
            pdf.line(cx, cy + dy * 0.5, cx, cy + dy * min(0.5 + mark, _GAP_Y / 2))


def sheet_pdf(faces: Sequence[CardFace]) -> bytes:
    """A4 sheets of 10 cards (2 × 5) with gutters and crop marks."""
    pdf = _pdf("A4")
    left = (pdf.w - _COLUMNS * CARD_W - (_COLUMNS - 1) * _GAP_X) / 2
    top = (pdf.h - _ROWS * CARD_H - (_ROWS - 1) * _GAP_Y) / 2
    for index, face in enumerate(faces):
        slot = index % PER_SHEET
        if slot == 0:
            pdf.add_page()
        x = left + (slot % _COLUMNS) * (CARD_W + _GAP_X)
        y = top + (slot // _COLUMNS) * (CARD_H + _GAP_Y)
        _crop_marks(pdf, x, y)
        _draw_card(pdf, face, x, y)
    if not faces:
        pdf.add_page()
    return bytes(pdf.output())


# --- printing (the operations the views call) --------------------------------------------------------------


def _printed(
    session: Session, actor: Actor, members: Iterable[Member], layout: str, **details: object
) -> None:
    numbers = [m.number for m in members]
    record_event(
        session, actor, "members.card_printed", target_type="member",
        target_id=numbers[0] if len(numbers) == 1 else None, layout=layout, numbers=numbers,
        count=len(numbers), **details,
    )  # fmt: skip


def print_card(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, *, link: Callable[[str], str]
) -> bytes:
    """One person's card (the caller got ``member`` through ``services.get_member``: in reach)."""
    if member.status not in CARD_STATUSES:
        raise NotFound(_l("Pas de carte pour un membre qui n'est pas couvert."))
    face = card_faces(session, tenant, [member], link=link, actor=actor)[0]
    _printed(session, actor, [member], "card")
    return card_pdf(face)


def print_household(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, *, link: Callable[[str], str]
) -> bytes:
    """The cards of every covered person of ``member``'s household, on one A4 sheet."""
    people = [m for m in services.household_of(member) if m.status in CARD_STATUSES]
    if not people:
        raise NotFound(_l("Personne n'est couvert dans ce foyer."))
    faces = card_faces(session, tenant, people, link=link, actor=actor)
    _printed(session, actor, people, "household")
    return sheet_pdf(faces)


def print_association(
    session: Session, tenant: TenantRef, actor: Actor, association_id: int, page: int, *,
    link: Callable[[str], str],
) -> bytes:  # fmt: skip
    """Page ``page`` (``BATCH_SIZE`` cards, households together) of an association's covered members."""
    association = services.require_association(session, actor, tenant, association_id, "members.read")
    members = list(
        session.scalars(
            select(Member)
            .where(Member.association_id == association.id, Member.status.in_(CARD_STATUSES))
            .order_by(Member.number)
            .offset((max(page, 1) - 1) * BATCH_SIZE)
            .limit(BATCH_SIZE)
        )
    )
    if page < 1 or not members:
        raise NotFound(_l("Aucune carte à imprimer sur cette page."))
    faces = card_faces(session, tenant, members, link=link, actor=actor)
    _printed(session, actor, members, "sheet", association=association.code, page=page)
    return sheet_pdf(faces)


@dataclass(frozen=True)
class AssociationBatch:
    association: Node
    count: int

    @property
    def pages(self) -> list[tuple[int, int, int]]:
        """(page, first card, last card) of each PDF."""
        return [
            (n + 1, n * BATCH_SIZE + 1, min((n + 1) * BATCH_SIZE, self.count))
            for n in range(-(-self.count // BATCH_SIZE))
        ]


def batches(session: Session, tenant: TenantRef, actor: Actor) -> list[AssociationBatch]:
    """The associations in the actor's reach with their number of cards to print."""
    nodes = services.associations_in_reach(session, actor, tenant, "members.read")
    counts = dict(
        session.execute(
            select(Member.association_id, func.count())
            .where(Member.association_id.in_([n.id for n in nodes]), Member.status.in_(CARD_STATUSES))
            .group_by(Member.association_id)
        ).all()
    )
    return [AssociationBatch(n, counts.get(n.id, 0)) for n in nodes]
