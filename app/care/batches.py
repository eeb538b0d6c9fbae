"""Payment batches: validated invoices grouped for payment to their providers (one line per provider in the
payout files), a CSV for bank transfers, a payout file for mobile money (Wave, Orange Money), a PDF
statement per provider, then paid (each invoice paid with the batch). Every change is audited."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_event
from app.care.claims_models import BatchStatus, CareInvoice, InvoiceStatus, PaymentBatch
from app.care.invoices import next_number
from app.care.models import CareProvider, PayoutMethod
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from tenants.context import TenantRef

PERMISSION = "care.validate_invoice"
MOBILE = (PayoutMethod.wave, PayoutMethod.orange_money)


@dataclass(frozen=True)
class ProviderTotal:
    provider: CareProvider
    invoices: list[CareInvoice]

    @property
    def total(self) -> int:
        return sum(i.amount_accepted for i in self.invoices)


def payable_invoices(session: Session) -> list[CareInvoice]:
    return list(
        session.scalars(
            select(CareInvoice)
            .where(CareInvoice.status == InvoiceStatus.validated, CareInvoice.payment_batch_id.is_(None))
            .order_by(CareInvoice.provider_id, CareInvoice.id)
        )
    )


def create_batch(
    session: Session, tenant: TenantRef, actor: Actor, invoice_ids: Sequence[int] | None = None
) -> PaymentBatch:
    """A batch of the validated invoices not yet in one (all of them, or those named)."""
    actor.require(PERMISSION)
    chosen = [i for i in payable_invoices(session) if invoice_ids is None or i.id in set(invoice_ids)]
    if not chosen:
        raise FieldError("invoices", _l("Aucune facture validée à payer."))
    methods = {str(session.get(CareProvider, i.provider_id).payout_method) for i in chosen}  # type: ignore[union-attr]
    batch = PaymentBatch(
        number=next_number(session, "LOT", PaymentBatch, clock.today().year),
        created_by_label=actor.label,
        status=BatchStatus.open,
        total=sum(i.amount_accepted for i in chosen),
        method=methods.pop() if len(methods) == 1 else "mixed",
    )
    session.add(batch)
    session.flush()
    for invoice in chosen:
        invoice.payment_batch_id = batch.id
    record_event(
        session,
        actor,
        "care.batch_created",
        target_type="payment_batch",
        target_id=batch.number,
        after={"invoices": [i.number for i in chosen], "total": batch.total, "method": batch.method},
    )
    session.flush()
    return batch


def get_batch(session: Session, public_id: str) -> PaymentBatch:
    batch = session.scalar(select(PaymentBatch).where(PaymentBatch.public_id == public_id))
    if batch is None:
        raise NotFound(_l("Lot de paiement introuvable."))
    return batch


def list_batches(session: Session, limit: int = 50) -> list[PaymentBatch]:
    return list(session.scalars(select(PaymentBatch).order_by(PaymentBatch.id.desc()).limit(limit)))


def by_provider(session: Session, batch: PaymentBatch) -> list[ProviderTotal]:
    grouped: dict[int, list[CareInvoice]] = defaultdict(list)
    for invoice in session.scalars(
        select(CareInvoice).where(CareInvoice.payment_batch_id == batch.id).order_by(CareInvoice.id)
    ):
        grouped[invoice.provider_id].append(invoice)
    providers = {p.id: p for p in session.scalars(select(CareProvider).where(CareProvider.id.in_(grouped)))}
    return [
        ProviderTotal(providers[pid], grouped[pid])
        for pid in sorted(grouped, key=lambda p: providers[p].code)
    ]


def mark_paid(session: Session, tenant: TenantRef, actor: Actor, batch: PaymentBatch) -> PaymentBatch:
    actor.require(PERMISSION)
    if batch.status is BatchStatus.paid:
        raise FieldError("batch", _l("Ce lot est déjà payé."))
    now = utcnow()
    batch.status, batch.paid_at = BatchStatus.paid, now
    for group in by_provider(session, batch):
        for invoice in group.invoices:
            invoice.status, invoice.paid_at = InvoiceStatus.paid, now
    record_event(
        session,
        actor,
        "care.batch_paid",
        target_type="payment_batch",
        target_id=batch.number,
        before={"status": "open"},
        after={"status": "paid", "total": batch.total},
    )
    session.flush()
    return batch


def _csv(rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def bank_transfer_csv(session: Session, actor: Actor, batch: PaymentBatch) -> bytes:
    """One transfer per provider paid by bank: account (IBAN/RIB), beneficiary, amount (XOF), reference."""
    rows: list[list[object]] = [
        ["compte", "beneficiaire", "code_prestataire", "montant_xof", "reference", "factures"]
    ]
    for group in by_provider(session, batch):
        if group.provider.payout_method is PayoutMethod.bank_transfer:
            rows.append(
                [
                    group.provider.payout_account,
                    group.provider.name,
                    group.provider.code,
                    group.total,
                    f"{batch.number} {group.provider.code}",
                    " ".join(i.number for i in group.invoices),
                ]
            )
    _exported(session, actor, batch, "bank_transfer", len(rows) - 1)
    return _csv(rows)


def mobile_money_csv(session: Session, actor: Actor, batch: PaymentBatch) -> bytes:
    """The payout file for mobile money (bulk payout of Wave or Orange Money): wallet number, amount,
    operator, name, reference."""
    rows: list[list[object]] = [["numero", "montant_xof", "operateur", "nom", "reference"]]
    for group in by_provider(session, batch):
        if group.provider.payout_method in MOBILE:
            rows.append(
                [
                    group.provider.payout_account,
                    group.total,
                    str(group.provider.payout_method),
                    group.provider.name,
                    f"{batch.number} {group.provider.code}",
                ]
            )
    _exported(session, actor, batch, "mobile_money", len(rows) - 1)
    return _csv(rows)


def _exported(session: Session, actor: Actor, batch: PaymentBatch, kind: str, count: int) -> None:
    record_event(
        session,
        actor,
        "care.batch_exported",
        target_type="payment_batch",
        target_id=batch.number,
        kind=kind,
        transfers=count,
    )


def _latin1(value: object) -> str:
    return (
        str(value).replace("\u202f", " ").replace("\xa0", " ").encode("latin-1", "replace").decode("latin-1")
    )


def statement_pdf(session: Session, actor: Actor, batch: PaymentBatch, provider: CareProvider) -> bytes:
    """The provider's statement for the batch: each invoice with its amounts asked, paid by the mutual and
    left to the members."""
    from app.formatting import money

    groups = [g for g in by_provider(session, batch) if g.provider.id == provider.id]
    if not groups:
        raise NotFound(_l("Ce prestataire n'a pas de facture dans ce lot."))
    group = groups[0]
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_creator("Mbolo")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, _latin1(f"Relevé de paiement {batch.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _latin1(f"{provider.name} ({provider.code})"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        6,
        _latin1(f"Paiement : {provider.payout_method} {provider.payout_account}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 9)
    widths = (40, 45, 35, 35, 35)
    for width, title in zip(widths, ("Facture", "Période", "Demandé", "Payé", "Part adhérents"), strict=True):
        pdf.cell(width, 6, _latin1(title), border=1)
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for invoice in group.invoices:
        period = f"{invoice.period_start:%d/%m/%Y}-{invoice.period_end:%d/%m/%Y}"
        values = (
            invoice.number,
            period,
            money(invoice.amount_asked),
            money(invoice.amount_accepted),
            money(invoice.member_share),
        )
        for width, value in zip(widths, values, strict=True):
            pdf.cell(width, 6, _latin1(value), border=1)
        pdf.ln()
    pdf.set_font("Helvetica", "B", 10)
    pdf.ln(2)
    pdf.cell(0, 6, _latin1(f"Total payé : {money(group.total)}"), new_x="LMARGIN", new_y="NEXT")
    record_event(
        session,
        actor,
        "care.statement_printed",
        target_type="payment_batch",
        target_id=batch.number,
        provider=provider.code,
    )
    return bytes(pdf.output())
