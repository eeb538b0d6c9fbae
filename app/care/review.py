"""The médecin-conseil's review queue: lines flagged by the controls (price above the agreed one, reduced by a
ceiling, unusual quantity) wait for a decision — confirm the automatic outcome, or override the mutual's
share with a note. Each decision is audited; when an invoice has no line left to review it moves from
in_review to checked (or rejected when nothing is payable), ready for validation."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.care.claims_models import CareInvoice, CareLine, CareRecord, InvoiceStatus
from app.care.controls import Outcome, Reason, ReviewStatus
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from tenants.context import TenantRef

PERMISSION = "care.medical_control"


@dataclass(frozen=True)
class QueueItem:
    line: CareLine
    record: CareRecord
    invoice: CareInvoice


def queue(session: Session, limit: int = 100, invoice_number: str | None = None) -> list[QueueItem]:
    """Lines awaiting review, oldest invoice first (of one invoice if its number is given)."""
    query = (
        select(CareLine, CareRecord, CareInvoice)
        .join(CareRecord, CareRecord.id == CareLine.record_id)
        .join(CareInvoice, CareInvoice.id == CareRecord.invoice_id)
        .where(CareLine.review_status == ReviewStatus.pending)
        .order_by(CareInvoice.submitted_at, CareLine.id)
        .limit(limit)
    )
    if invoice_number:
        query = query.where(CareInvoice.number == invoice_number.strip().upper())
    rows = session.execute(query).all()
    return [QueueItem(line, record, invoice) for line, record, invoice in rows]


def get_line(session: Session, line_id: int) -> CareLine:
    found = session.get(CareLine, line_id)
    if found is None:
        raise NotFound(_l("Ligne introuvable."))
    return found


def _clean_note(note: str | None, required: bool) -> str:
    text = (note or "").strip()
    if required and len(text) < 5:
        raise FieldError("note", _l("Expliquez la décision en quelques mots."))
    return text[:500]


def decide(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    line: CareLine,
    *,
    decision: str,
    note: str | None = None,
    amount: int | str | None = None,
) -> CareLine:
    """``confirm`` the automatic outcome, or ``override`` it with the mutual's share ``amount`` (0 rejects
    the line) and a note."""
    actor.require(PERMISSION)
    if line.review_status is not ReviewStatus.pending:
        raise FieldError("decision", _l("Cette ligne n'attend pas de contrôle médical."))
    before = {
        "outcome": str(line.outcome),
        "amount_accepted": line.amount_accepted,
        "member_share": line.member_share,
    }
    if decision == "confirm":
        line.review_status = ReviewStatus.confirmed
        line.review_note = _clean_note(note, required=False) or None
        line.reason_codes = [*line.reason_codes, Reason.medical_confirmed.value]
    elif decision == "override":
        text = str(amount if amount is not None else "").strip().replace(" ", "").replace("\u202f", "")
        if not text.isdigit():
            raise FieldError("amount", _l("Indiquez le montant pris en charge (un nombre entier de francs)."))
        value = int(text)
        basis = (line.agreed_unit_price or line.unit_price_asked) * line.quantity
        if value > basis:
            raise FieldError("amount", _l("Au plus le montant au tarif conventionné (%(n)s).", n=basis))
        line.review_note = _clean_note(note, required=True)
        line.review_status = ReviewStatus.overridden
        line.amount_accepted = value
        line.member_share = basis - value
        line.quantity_accepted = line.quantity if value else 0
        line.outcome = (
            Outcome.rejected if value == 0 else (Outcome.accepted if value == basis else Outcome.reduced)
        )
        line.reason_codes = [*line.reason_codes, Reason.medical_override.value]
    else:
        raise FieldError("decision", _l("Choisissez de confirmer ou de modifier."))
    line.reviewed_by_label = actor.label
    line.reviewed_at = utcnow()
    session.flush()
    record = session.get(CareRecord, line.record_id)
    assert record is not None and record.invoice_id is not None
    invoice = session.get(CareInvoice, record.invoice_id)
    assert invoice is not None
    record_event(
        session,
        actor,
        "care.line_reviewed",
        target_type="care_line",
        target_id=line.id,
        before=before,
        after={
            "decision": decision,
            "outcome": str(line.outcome),
            "amount_accepted": line.amount_accepted,
            "member_share": line.member_share,
            "note": line.review_note,
        },
        invoice=invoice.number,
    )
    _settle(session, actor, invoice)
    return line


def _settle(session: Session, actor: Actor, invoice: CareInvoice) -> None:
    """New totals; out of review once nothing is pending."""
    from app.care.invoices import _refresh_totals

    _refresh_totals(session, [invoice.id])
    pending = session.scalar(
        select(func.count(CareLine.id))
        .join(CareRecord, CareRecord.id == CareLine.record_id)
        .where(CareRecord.invoice_id == invoice.id, CareLine.review_status == ReviewStatus.pending)
    )
    if invoice.status is InvoiceStatus.in_review and not pending:
        payable = session.scalar(
            select(func.count(CareLine.id))
            .join(CareRecord, CareRecord.id == CareLine.record_id)
            .where(CareRecord.invoice_id == invoice.id, CareLine.outcome != Outcome.rejected)
        )
        invoice.status = InvoiceStatus.checked if payable else InvoiceStatus.rejected
        record_event(
            session,
            actor,
            "care.invoice_reviewed",
            target_type="care_invoice",
            target_id=invoice.number,
            before={"status": "in_review"},
            after={"status": str(invoice.status)},
        )
    session.flush()
