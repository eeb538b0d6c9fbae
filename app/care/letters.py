"""Guarantee letters (lettres de garantie): the mutual guarantees acts for a beneficiary at a provider, up to
a quantity and an estimated price (the agreed price by default), until a date.

Life cycle: ``issued`` at once, or ``pending_approval`` when an act needs prior approval (the product's
rule), then ``issued`` or ``refused`` by the médecin-conseil with a note; ``consumed`` when invoice lines have
used every item (``consume``), ``cancelled`` by the mutual, ``expired`` past its date. An issued letter is a
PDF with a QR code carrying a signed token (the card's Ed25519 JWS machinery, payload
``{"iss": slug, "sub": "LG-…", "typ": "lg", "iat", "exp"}``) verifiable at
``/<slug>/lettres/verify/<token>``."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_event, record_read
from app.care import conventions
from app.care.models import CareProvider, GuaranteeLetter, GuaranteeLetterItem, LetterStatus, ProviderStatus
from app.care.providers import provider_scope, require_in_branch
from app.coverage import rights as rights_engine
from app.coverage.models import Benefit, ProductBenefit
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.formatting import money
from app.members import cards
from app.members.models import Member
from app.security.actor import Actor
from tenants.context import TenantRef

ISSUE = "care.record"
DECIDE = "care.medical_control"
READ = "care.read"
MAX_VALIDITY_DAYS = 90
_LOCK = 0x4C4754  # "LGT": numbering per mutual

STATUS_LABELS = {
    LetterStatus.pending_approval: _l("En attente d'accord du médecin-conseil"),
    LetterStatus.issued: _l("Émise"),
    LetterStatus.refused: _l("Refusée"),
    LetterStatus.consumed: _l("Utilisée"),
    LetterStatus.cancelled: _l("Annulée"),
    LetterStatus.expired: _l("Expirée"),
}


@dataclass
class ItemInput:
    benefit_id: int
    quantity: int
    unit_price: int | None = None  # None: the agreed price


def _next_number(session: Session, year: int) -> str:
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
    prefix = f"LG-{year}-"
    last = session.scalar(
        select(func.max(GuaranteeLetter.number)).where(GuaranteeLetter.number.like(f"{prefix}%"))
    )
    following = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{following:06d}"


def _rules_for(answer: rights_engine.Rights, benefit_id: int) -> ProductBenefit | None:
    """The coverage rule of the first covering product that covers this benefit."""
    for held in answer.covering:
        for pb in held.product.benefits:
            if pb.benefit_id == benefit_id and pb.covered:
                return pb
    return None


def issue(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    *,
    member: Member,
    provider: CareProvider,
    items: list[ItemInput],
    valid_until: dt.date,
    issued_on: dt.date | None = None,
) -> GuaranteeLetter:
    """Issue a letter (or put it in the médecin-conseil's queue when an act needs prior approval)."""
    require_in_branch(session, tenant, actor, ISSUE)
    if provider_scope(session, actor) is not None:
        raise Forbidden(_l("Les lettres de garantie sont émises par la mutuelle."))
    issued_on = issued_on or clock.today()
    if provider.status != ProviderStatus.active:
        raise FieldError("provider", _l("Ce prestataire n'est pas actif."))
    if valid_until < issued_on:
        raise FieldError("valid_until", _l("La date de validité doit suivre la date d'émission."))
    if (valid_until - issued_on).days > MAX_VALIDITY_DAYS:
        raise FieldError("valid_until", _l("Une lettre vaut au plus %(days)s jours.", days=MAX_VALIDITY_DAYS))
    if not items:
        raise FieldError("items", _l("Ajoutez au moins un acte."))
    answer = rights_engine.rights_on(session, tenant, member, issued_on)
    if not answer.covered:
        raise FieldError("member", _l("Bénéficiaire non couvert : %(why)s", why=answer.headline))
    rows = []
    seen: set[int] = set()
    for item in items:
        benefit = session.get(Benefit, item.benefit_id)
        if benefit is None or not benefit.active:
            raise FieldError("items", _l("Acte inconnu du catalogue."))
        if benefit.id in seen:
            raise FieldError("items", _l("L'acte %(code)s figure deux fois.", code=benefit.code))
        seen.add(benefit.id)
        if item.quantity < 1 or item.quantity > 999:
            raise FieldError("items", _l("Quantité invalide pour %(code)s.", code=benefit.code))
        rule = _rules_for(answer, benefit.id)
        if rule is None:
            raise FieldError("items", _l("%(name)s n'est pas couvert par le produit.", name=benefit.name))
        price = item.unit_price
        if price is None:
            price = conventions.agreed_price(session, provider.id, benefit.id, issued_on)
        if price is None:
            raise FieldError(
                "items", _l("Pas de prix convenu pour %(name)s : indiquez le prix estimé.", name=benefit.name)
            )
        if price < 0:
            raise FieldError("items", _l("Prix invalide pour %(code)s.", code=benefit.code))
        rows.append(
            GuaranteeLetterItem(
                benefit_id=benefit.id,
                quantity=item.quantity,
                unit_price=price,
                needs_approval=bool(rule.prior_approval),
                approved=None if rule.prior_approval else True,
            )  # fmt: skip
        )
    pending = any(r.needs_approval for r in rows)
    letter = GuaranteeLetter(
        number=_next_number(session, issued_on.year), member_id=member.id, provider_id=provider.id,
        issued_on=issued_on, valid_until=valid_until,
        estimated_amount=sum(r.quantity * r.unit_price for r in rows),
        status=LetterStatus.pending_approval if pending else LetterStatus.issued,
        created_by_label=actor.label[:200], items=rows,
    )  # fmt: skip
    session.add(letter)
    session.flush()
    record_event(
        session, actor, "care.letter_created", target_type="guarantee_letter", target_id=letter.number,
        after=_snapshot(letter),
    )  # fmt: skip
    if letter.status == LetterStatus.issued:
        _notify_issued(session, tenant, actor, letter, member)
    return letter


def decide(
    session: Session, tenant: TenantRef, actor: Actor, letter: GuaranteeLetter, *, approve: bool, note: str
) -> GuaranteeLetter:
    """The médecin-conseil approves (the letter is issued) or refuses (with a reason) a queued letter."""
    require_in_branch(session, tenant, actor, DECIDE)
    if provider_scope(session, actor) is not None:
        raise Forbidden(_l("Réservé au médecin-conseil."))
    if letter.status != LetterStatus.pending_approval:
        raise DomainError(_l("Cette lettre n'attend pas d'accord."))
    note = (note or "").strip()
    if not approve and not note:
        raise FieldError("note", _l("Indiquez le motif du refus."))
    before = _snapshot(letter)
    for item in letter.items:
        if item.needs_approval:
            item.approved = approve
    letter.status = LetterStatus.issued if approve else LetterStatus.refused
    letter.decided_by_label = actor.label[:200]
    letter.decision_note = note[:500] or None
    session.flush()
    record_event(
        session, actor, "care.letter_approved" if approve else "care.letter_refused",
        target_type="guarantee_letter", target_id=letter.number, before=before, after=_snapshot(letter),
    )  # fmt: skip
    if approve:
        _notify_issued(session, tenant, actor, letter, session.get(Member, letter.member_id))
    return letter


def cancel(session: Session, tenant: TenantRef, actor: Actor, letter: GuaranteeLetter, *, note: str) -> None:
    require_in_branch(session, tenant, actor, ISSUE)
    if provider_scope(session, actor) is not None:
        raise Forbidden(_l("Les lettres de garantie sont gérées par la mutuelle."))
    if letter.status not in (LetterStatus.pending_approval, LetterStatus.issued):
        raise DomainError(_l("Cette lettre ne peut plus être annulée."))
    if any(i.consumed_quantity for i in letter.items):
        raise DomainError(_l("Cette lettre a déjà servi : elle ne peut plus être annulée."))
    if not (note or "").strip():
        raise FieldError("note", _l("Indiquez le motif de l'annulation."))
    before = _snapshot(letter)
    letter.status = LetterStatus.cancelled
    letter.decided_by_label = actor.label[:200]
    letter.decision_note = note.strip()[:500]
    session.flush()
    record_event(
        session, actor, "care.letter_cancelled", target_type="guarantee_letter", target_id=letter.number,
        before=before, after=_snapshot(letter),
    )  # fmt: skip


def _notify_issued(
    session: Session, tenant: TenantRef, actor: Actor, letter: GuaranteeLetter, member: Member | None
) -> None:
    if member is None:
        return
    from notifications.services import notify

    provider = session.get(CareProvider, letter.provider_id)
    notify(
        session, tenant, actor, event="care.letter_issued", member=member,
        context={"number": letter.number, "provider_name": provider.name if provider else ""},
    )  # fmt: skip


def consume(
    session: Session,
    letter_id: int,
    benefit_id: int,
    quantity: int,
    care_date: dt.date,
    *,
    provider_id: int | None = None,
) -> bool:
    """An invoice line uses ``quantity`` of the letter's item for ``benefit_id``: True (and counted) if the
    letter is issued, valid on ``care_date``, for that provider (when given), with that much left. The letter
    becomes ``consumed`` once every item is used up. Called by the claims side within its transaction."""
    letter = session.scalar(
        select(GuaranteeLetter).where(GuaranteeLetter.id == letter_id).with_for_update(of=GuaranteeLetter)
    )
    if letter is None or letter.status != LetterStatus.issued or quantity < 1:
        return False
    if not letter.issued_on <= care_date <= letter.valid_until:
        return False
    if provider_id is not None and provider_id != letter.provider_id:
        return False
    item = next((i for i in letter.items if i.benefit_id == benefit_id), None)
    if item is None or item.approved is False or item.consumed_quantity + quantity > item.quantity:
        return False
    item.consumed_quantity += quantity
    if all(i.consumed_quantity >= i.quantity for i in letter.items):
        letter.status = LetterStatus.consumed
    session.flush()
    return True


def expire_letters(session: Session, day: dt.date | None = None) -> int:
    """Issued or pending letters past their date become expired (nightly, and before listing)."""
    day = day or clock.today()
    found = list(
        session.scalars(
            select(GuaranteeLetter).where(
                GuaranteeLetter.status.in_([LetterStatus.issued, LetterStatus.pending_approval]),
                GuaranteeLetter.valid_until < day,
            )
        )
    )
    for letter in found:
        letter.status = LetterStatus.expired
    session.flush()
    return len(found)


def _snapshot(letter: GuaranteeLetter) -> dict:
    return {
        "number": letter.number, "status": str(letter.status), "provider_id": letter.provider_id,
        "member_id": letter.member_id, "issued_on": letter.issued_on.isoformat(),
        "valid_until": letter.valid_until.isoformat(), "estimated_amount": letter.estimated_amount,
        "items": [
            {"benefit_id": i.benefit_id, "quantity": i.quantity, "unit_price": i.unit_price,
             "needs_approval": i.needs_approval, "approved": i.approved, "consumed": i.consumed_quantity}
            for i in letter.items
        ],
        "note": letter.decision_note,
    }  # fmt: skip


# --- reading -----------------------------------------------------------------------------------------------


def list_letters(
    session: Session, tenant: TenantRef, actor: Actor, *, status: str = "", q: str = "", limit: int = 100
) -> list[GuaranteeLetter]:
    """Letters in reach (provider staff: their provider's), newest first."""
    query = select(GuaranteeLetter).order_by(GuaranteeLetter.created_at.desc()).limit(limit)
    own = provider_scope(session, actor)
    if own is not None:
        query = query.where(GuaranteeLetter.provider_id == own)
    elif not any(
        _holds(session, tenant, actor, code) for code in (READ, ISSUE, DECIDE)
    ):  # the mutual's staff who read, issue or decide
        raise Forbidden(_l("Vous n'avez pas le droit d'effectuer cette action ici."))
    if status:
        query = query.where(GuaranteeLetter.status == status)
    if q.strip():
        query = query.join(Member, Member.id == GuaranteeLetter.member_id).where(
            (GuaranteeLetter.number == q.strip().upper()) | (Member.number == q.strip().upper())
        )
    return list(session.scalars(query))


def _holds(session: Session, tenant: TenantRef, actor: Actor, code: str) -> bool:
    try:
        require_in_branch(session, tenant, actor, code)
    except Forbidden:
        return False
    return True


def approval_queue(session: Session, tenant: TenantRef, actor: Actor) -> list[GuaranteeLetter]:
    require_in_branch(session, tenant, actor, DECIDE)
    return list(
        session.scalars(
            select(GuaranteeLetter)
            .where(GuaranteeLetter.status == LetterStatus.pending_approval)
            .order_by(GuaranteeLetter.created_at)
        )
    )


def get_letter(session: Session, tenant: TenantRef, actor: Actor, public_id: str) -> GuaranteeLetter:
    letter = session.scalar(select(GuaranteeLetter).where(GuaranteeLetter.public_id == public_id))
    own = provider_scope(session, actor)
    if letter is None or (own is not None and letter.provider_id != own):
        raise NotFound(_l("Lettre de garantie introuvable."))
    if own is None and not any(_holds(session, tenant, actor, c) for c in (READ, ISSUE, DECIDE)):
        raise NotFound(_l("Lettre de garantie introuvable."))
    record_read(session, actor, "guarantee_letter", letter.number)
    return letter


# --- signed token, verification, PDF -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def letter_token(
    session: Session, tenant: TenantRef, letter: GuaranteeLetter, actor: Actor | None = None
) -> str:
    """A JWS (EdDSA, the mutual's card key) naming the letter; it holds nothing medical."""
    signer = cards.signer(session, tenant, actor)
    header = _b64(_json({"alg": "EdDSA", "kid": signer.kid}))
    end = dt.datetime.combine(letter.valid_until + dt.timedelta(days=1), dt.time(), dt.UTC)
    payload = _b64(
        _json(
            {
                "iss": tenant.slug,
                "sub": letter.number,
                "typ": "lg",
                "iat": int(dt.datetime.now(dt.UTC).timestamp()),
                "exp": int(end.timestamp()),
            }
        )  # fmt: skip
    )
    signature = signer.private_key.sign(f"{header}.{payload}".encode("ascii"))
    return f"{header}.{payload}.{_b64(signature)}"


@dataclass(frozen=True)
class LetterCheck:
    """What the public check may say: valid | expired | not_valid (refused, cancelled, consumed, pending)
    | invalid (forged, foreign, unknown)."""

    outcome: str
    letter: GuaranteeLetter | None = None

    @property
    def valid(self) -> bool:
        return self.outcome == "valid"


def check_token(session: Session, tenant: TenantRef, token: str) -> LetterCheck:
    verdict = cards.verify_token(session, tenant, token)  # shape, mutual, key, signature, expiry
    if verdict.number is None:
        return LetterCheck("invalid")
    try:
        payload = json.loads(_unb64(token.split(".")[1]))
    except (ValueError, IndexError):
        return LetterCheck("invalid")
    if payload.get("typ") != "lg":  # a member card's token is not a letter
        return LetterCheck("invalid")
    letter = session.scalar(select(GuaranteeLetter).where(GuaranteeLetter.number == verdict.number))
    if letter is None:
        return LetterCheck("invalid")
    today = clock.today()
    if not verdict.valid or letter.valid_until < today or letter.status == LetterStatus.expired:
        return LetterCheck("expired", letter)
    if letter.status != LetterStatus.issued:
        return LetterCheck("not_valid", letter)
    return LetterCheck("valid", letter)


def verify_letter(session: Session, tenant: TenantRef, actor: Actor, token: str) -> LetterCheck:
    result = check_token(session, tenant, token)
    record_event(
        session, actor, "care.letter_verified", target_type="guarantee_letter",
        target_id=result.letter.number if result.letter else None,
        outcome="success" if result.valid else "refused", result=result.outcome,
    )  # fmt: skip
    return result


def _qr(link: str) -> io.BytesIO:
    import segno

    out = io.BytesIO()
    segno.make(link, error="m", micro=False).save(out, kind="png", scale=4, border=1)
    out.seek(0)
    return out


def letter_pdf(
    session: Session, tenant: TenantRef, actor: Actor, letter: GuaranteeLetter, link: Callable[[str], str]
) -> bytes:
    """An A5 letter: mutual, number, beneficiary, provider, validity, acts with quantities and estimated
    prices, and the QR code of the verification address."""
    if letter.status not in (LetterStatus.issued, LetterStatus.consumed):
        raise DomainError(_l("Seule une lettre émise peut être imprimée."))
    member = session.get(Member, letter.member_id)
    provider = session.get(CareProvider, letter.provider_id)
    token = letter_token(session, tenant, letter, actor)
    latin1 = cards.latin1
    pdf = FPDF(format=(148, 210))  # A5 in mm (the "A5" name warns in fpdf2)
    pdf.set_compression(True)
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, latin1(tenant.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 7, latin1(f"Lettre de garantie {letter.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    lines = [
        f"Beneficiaire : {member.full_name if member else ''} ({member.number if member else ''})",
        f"Prestataire : {provider.name if provider else ''} ({provider.code if provider else ''})",
        f"Emise le {letter.issued_on:%d/%m/%Y}, valable jusqu'au {letter.valid_until:%d/%m/%Y}",
    ]
    for line in lines:
        pdf.multi_cell(0, 5.5, latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 10)
    widths = (70, 18, 20, 20)
    for width, head in zip(widths, ("Acte", "Qte", "Prix", "Total"), strict=True):
        pdf.cell(width, 6, head, border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for item in letter.items:
        cells = (
            item.benefit.name[:45], str(item.quantity), money(item.unit_price),
            money(item.quantity * item.unit_price),
        )  # fmt: skip
        for width, value in zip(widths, cells, strict=True):
            pdf.cell(width, 6, latin1(value), border=1)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(
        0, 7, latin1(f"Montant estime : {money(letter.estimated_amount)}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(
        0, 4, latin1("Verifiez cette lettre en scannant le code : validite et actes couverts."),
        new_x="LMARGIN", new_y="NEXT",
    )  # fmt: skip
    pdf.image(_qr(link(token)), x=pdf.get_x(), y=pdf.get_y() + 2, w=35, h=35)
    record_event(
        session, actor, "care.letter_printed", target_type="guarantee_letter", target_id=letter.number
    )
    return bytes(pdf.output())
