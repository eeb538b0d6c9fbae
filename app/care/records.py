"""Care records (attestations de prestation): a beneficiary's care at a provider on a date, with its lines of
acts and medicines (quantities and prices asked), prescriber, optional diagnosis and guarantee letter.

Entered by the provider's staff (``care.record``; limited to their own provider through ``provider_users``)
or by an agent of the mutual. Every function runs in the tenant's scope, flushes and never commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_event
from app.care import providers
from app.care.claims_models import CareInvoice, CareLine, CareRecord, InvoiceStatus
from app.care.models import CareProvider, GuaranteeLetter
from app.coverage.models import Benefit
from app.errors import FieldError, Forbidden, NotFound
from app.members import numbers
from app.members.models import Member
from app.security.actor import Actor
from tenants.context import TenantRef

#: Above this, a typed unit price is surely a mistake.
MAX_UNIT_PRICE = 5_000_000
MAX_QUANTITY = 1000
MAX_LINES = 50


@dataclass(frozen=True)
class LineInput:
    benefit_code: str
    quantity: int | str
    unit_price: int | str


@dataclass(frozen=True)
class RecordInput:
    member_number: str
    care_date: dt.date
    lines: Sequence[LineInput]
    prescriber: str = ""
    diagnosis: str | None = None
    letter_number: str | None = None
    external_ref: str | None = None
    errors: list[FieldError] = field(default_factory=list)


# --- who may act for which provider ------------------------------------------------------------------------


def own_provider_id(session: Session, actor: Actor) -> int | None:
    """The provider an account works for (provider staff), None for the mutual's own staff."""
    return providers.provider_scope(session, actor)


def check_provider(session: Session, actor: Actor, provider_id: int) -> None:
    """Provider staff act only for their own provider (a 403 otherwise, like any out-of-reach object)."""
    own = own_provider_id(session, actor)
    if own is not None and own != provider_id:
        raise Forbidden(_l("Vous n'avez accès qu'aux données de votre établissement."))


def get_provider(session: Session, actor: Actor, public_id: str) -> CareProvider:
    provider = session.scalar(select(CareProvider).where(CareProvider.public_id == public_id))
    if provider is None:
        raise NotFound(_l("Prestataire introuvable."))
    check_provider(session, actor, provider.id)
    return provider


# --- parsing -----------------------------------------------------------------------------------------------


def parse_int(raw: int | str, field_name: str, *, low: int, high: int) -> int:
    text = str(raw).strip().replace(" ", "").replace("\u202f", "").replace("\xa0", "")
    if not text.lstrip("-").isdigit():
        raise FieldError(field_name, _l("Nombre entier attendu."))
    value = int(text)
    if not low <= value <= high:
        raise FieldError(field_name, _l("Valeur hors limites (%(low)s à %(high)s).", low=low, high=high))
    return value


def find_member(session: Session, raw: str, field_name: str = "member_number") -> Member:
    parsed = numbers.parse(raw)
    if parsed is None:
        raise FieldError(field_name, _l("Numéro de membre invalide (vérifiez chaque caractère)."))
    member = session.scalar(select(Member).where(Member.number == str(parsed)))
    if member is None:
        raise FieldError(field_name, _l("Aucun bénéficiaire avec ce numéro."))
    return member


def benefits_by_code(session: Session, codes: Sequence[str]) -> dict[str, Benefit]:
    wanted = {c.strip().upper() for c in codes if c and c.strip()}
    if not wanted:
        return {}
    return {b.code.upper(): b for b in session.scalars(select(Benefit).where(Benefit.code.in_(wanted)))}


# --- records -----------------------------------------------------------------------------------------------


def create_record(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    provider: CareProvider,
    data: RecordInput,
    *,
    invoice: CareInvoice | None = None,
    audit: bool = True,
) -> CareRecord:
    """A care record with its lines, on ``invoice`` (a draft) if given. Every problem is a ``FieldError``
    naming the field (``lines-<n>-…`` for a line)."""
    check_provider(session, actor, provider.id)
    if invoice is not None:
        if invoice.provider_id != provider.id:
            raise FieldError("invoice", _l("Cette facture est celle d'un autre prestataire."))
        if invoice.status is not InvoiceStatus.draft:
            raise FieldError("invoice", _l("Cette facture est déjà soumise : elle ne peut plus changer."))
    member = find_member(session, data.member_number)
    today = clock.today()
    if data.care_date > today:
        raise FieldError("care_date", _l("La date des soins ne peut pas être dans le futur."))
    if invoice is not None and not (invoice.period_start <= data.care_date <= invoice.period_end):
        raise FieldError("care_date", _l("La date des soins est hors de la période de la facture."))
    if not data.lines:
        raise FieldError("lines", _l("Ajoutez au moins un acte ou un médicament."))
    if len(data.lines) > MAX_LINES:
        raise FieldError("lines", _l("Au plus %(n)s lignes par prestation.", n=MAX_LINES))
    found = benefits_by_code(session, [line.benefit_code for line in data.lines])
    letter_id = None
    if data.letter_number and data.letter_number.strip():
        letter = session.scalar(
            select(GuaranteeLetter).where(GuaranteeLetter.number == data.letter_number.strip().upper())
        )
        if letter is None or letter.member_id != member.id or letter.provider_id != provider.id:
            raise FieldError("letter_number", _l("Lettre de garantie introuvable pour ce bénéficiaire ici."))
        letter_id = letter.id
    if data.external_ref:
        again = session.scalar(
            select(CareRecord).where(
                CareRecord.provider_id == provider.id, CareRecord.external_ref == data.external_ref
            )
        )
        if again is not None:
            return again  # the same record sent twice (upload, API): nothing new
    record = CareRecord(
        invoice_id=invoice.id if invoice is not None else None,
        provider_id=provider.id,
        member_id=member.id,
        care_date=data.care_date,
        prescriber=(data.prescriber or "").strip()[:200],
        diagnosis=(data.diagnosis or "").strip()[:300] or None,
        guarantee_letter_id=letter_id,
        external_ref=data.external_ref,
        entered_by_label=actor.label,
    )
    for index, line in enumerate(data.lines):
        benefit = found.get((line.benefit_code or "").strip().upper())
        if benefit is None:
            raise FieldError(f"lines-{index}-benefit", _l("Acte ou médicament inconnu du catalogue."))
        quantity = parse_int(line.quantity, f"lines-{index}-quantity", low=1, high=MAX_QUANTITY)
        price = parse_int(line.unit_price, f"lines-{index}-unit_price", low=0, high=MAX_UNIT_PRICE)
        record.lines.append(
            CareLine(
                benefit_id=benefit.id,
                quantity=quantity,
                unit_price_asked=price,
                amount_asked=quantity * price,
            )
        )
    session.add(record)
    session.flush()
    if invoice is not None:
        invoice.amount_asked = (invoice.amount_asked or 0) + sum(line.amount_asked for line in record.lines)
    if audit:
        record_event(
            session,
            actor,
            "care.record_created",
            target_type="care_record",
            target_id=record.public_id,
            after={
                "member": member.number,
                "care_date": data.care_date.isoformat(),
                "lines": len(record.lines),
                "invoice": invoice.number if invoice else None,
            },
        )
    return record


# --- the member portal's "mes dossiers" ----------------------------------------------------------------


@dataclass(frozen=True)
class Dossier:
    """One line of "mes dossiers": a guarantee letter or a care line of the household, with its status."""

    kind: str  # "letter" | "care"
    day: dt.date
    title: str
    detail: str
    status: str


def household_dossiers(session: Session, member: Member) -> list[Dossier]:
    """The household's guarantee letters and care lines (invoices submitted or later) with their status and
    what the mutual paid and what is left to the member, newest first (at most 100)."""
    from flask_babel import gettext as _
    from sqlalchemy import or_

    from app.care import controls
    from app.formatting import money

    head = member.principal_id or member.id
    people = {
        m.id: m
        for m in session.scalars(select(Member).where(or_(Member.id == head, Member.principal_id == head)))
    }
    found: list[Dossier] = []
    letter_labels = {
        "pending_approval": _("en attente d'accord"),
        "issued": _("émise"),
        "refused": _("refusée"),
        "consumed": _("utilisée"),
        "cancelled": _("annulée"),
        "expired": _("expirée"),
    }
    for letter, provider_name in session.execute(
        select(GuaranteeLetter, CareProvider.name)
        .join(CareProvider, CareProvider.id == GuaranteeLetter.provider_id)
        .where(GuaranteeLetter.member_id.in_(people))
        .order_by(GuaranteeLetter.issued_on.desc())
        .limit(50)
    ):
        who = people[letter.member_id].full_name
        status = letter_labels.get(str(letter.status), str(letter.status))
        found.append(
            Dossier(
                "letter",
                letter.issued_on,
                _(
                    "Lettre de garantie %(number)s · %(provider)s",
                    number=letter.number,
                    provider=provider_name,
                ),
                _(
                    "%(who)s · du %(start)s au %(end)s · %(status)s",
                    who=who,
                    start=letter.issued_on.strftime("%d/%m/%Y"),
                    end=letter.valid_until.strftime("%d/%m/%Y"),
                    status=status,
                ),
                status,
            )
        )
    rows = session.execute(
        select(CareLine, CareRecord.care_date, CareRecord.member_id, Benefit.name, CareProvider.name)
        .join(CareRecord, CareRecord.id == CareLine.record_id)
        .join(CareInvoice, CareInvoice.id == CareRecord.invoice_id)
        .join(Benefit, Benefit.id == CareLine.benefit_id)
        .join(CareProvider, CareProvider.id == CareRecord.provider_id)
        .where(CareRecord.member_id.in_(people), CareInvoice.status != "draft")
        .order_by(CareRecord.care_date.desc(), CareLine.id.desc())
        .limit(100)
    ).all()
    for line, day, member_id, benefit_name, provider_name in rows:
        status = str(controls.OUTCOME_LABELS[str(line.outcome)])
        if str(line.outcome) == "pending":
            detail = _("%(who)s · en cours de contrôle", who=people[member_id].full_name)
        else:
            detail = _(
                "%(who)s · %(status)s : pris en charge %(paid)s, à votre charge %(own)s",
                who=people[member_id].full_name,
                status=status,
                paid=money(line.amount_accepted),
                own=money(line.member_share),
            )
            reasons = [controls.label(c) for c in line.reason_codes if c not in ("medical_confirmed",)]
            if reasons:
                detail += " (" + " ; ".join(reasons) + ")"
        found.append(
            Dossier(
                "care",
                day,
                _(
                    "%(day)s · %(act)s · %(provider)s",
                    day=day.strftime("%d/%m/%Y"),
                    act=benefit_name,
                    provider=provider_name,
                ),
                detail,
                status,
            )
        )
    found.sort(key=lambda d: d.day, reverse=True)
    return found[:100]
