"""Reconciliation: our ledger of one provider for one day against the provider's own report.

Three kinds of difference, one ``ReconciliationItem`` each: ``missing_ours`` (paid at the provider, unknown
or unpaid here — money taken without credit), ``missing_theirs`` (paid here, absent from the provider's
report — a credit without money), ``amount_differs``. The report comes from an uploaded file (CSV) or from
the provider: the Sandbox *is* a provider, so its own ledger is its report (the daily job works in the demo);
for real providers without a report API, each of our payments is checked with ``fetch_status`` — which
cannot reveal ``missing_ours``: only a report file can."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from payments.models import (
    OnlinePayment,
    OnlineStatus,
    ReconciliationItem,
    ReconciliationRun,
    SandboxCharge,
)
from payments.providers import registry
from payments.providers.base import ProviderError
from tenants.context import TenantRef

#: Our statuses that mean the money was received (refunds included: the payment happened that day).
PAID = (OnlineStatus.succeeded, OnlineStatus.refunded, OnlineStatus.partially_refunded)
#: Report statuses that mean paid (providers word it differently; compared lower-case).
PAID_WORDS = frozenset(
    {"succeeded", "success", "successful", "paid", "complete", "completed", "refunded", "partially_refunded",
     "payé", "paye", "réussi", "reussi", "rembourse", "remboursé"}
)  # fmt: skip
KIND_LABELS: dict[str, object] = {
    "missing_ours": _l("Absent chez nous"),
    "missing_theirs": _l("Absent du relevé de l'opérateur"),
    "amount_differs": _l("Montants différents"),
}
_REF_COLUMNS = ("provider_ref", "reference", "référence", "ref")
_AMOUNT_COLUMNS = ("amount", "montant")
_STATUS_COLUMNS = ("status", "statut")
MAX_REPORT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class ReportRow:
    """One line of a provider's report."""

    provider_ref: str
    amount: int
    status: str

    @property
    def paid(self) -> bool:
        return self.status.strip().lower() in PAID_WORDS


# --- reading a report file ---------------------------------------------------------------------------------


def _amount(text: str, line: int) -> int:
    cleaned = text.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as bad:
        raise FieldError("report", _l("Ligne %(line)s : montant illisible.", line=line)) from bad
    if value != value.to_integral_value():
        raise FieldError("report", _l("Ligne %(line)s : montant avec centimes.", line=line))
    return int(value)


def _column(header: list[str], names: tuple[str, ...]) -> int:
    for i, name in enumerate(header):
        if name.strip().lower().lstrip("\ufeff") in names:
            return i
    raise FieldError(
        "report",
        _l("Colonne manquante : %(names)s.", names=" / ".join(names)),
    )


def parse_report(data: bytes) -> list[ReportRow]:
    """The rows of a CSV report (``;`` or ``,``): columns provider_ref/reference, amount/montant,
    status/statut, in any order, with a header line."""
    if len(data) > MAX_REPORT_BYTES:
        raise FieldError("report", _l("Fichier trop volumineux (5 Mo au plus)."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", "replace")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    lines = [
        line for line in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in line)
    ]
    if not lines:
        raise FieldError("report", _l("Le fichier est vide."))
    header, body = lines[0], lines[1:]
    ref, amount, status = (_column(header, n) for n in (_REF_COLUMNS, _AMOUNT_COLUMNS, _STATUS_COLUMNS))
    rows = []
    for number, cells in enumerate(body, start=2):
        if len(cells) <= max(ref, amount, status):
            raise FieldError("report", _l("Ligne %(line)s : colonnes manquantes.", line=number))
        reference = cells[ref].strip()
        if not reference:
            raise FieldError("report", _l("Ligne %(line)s : référence vide.", line=number))
        rows.append(ReportRow(reference, _amount(cells[amount], number), cells[status].strip()))
    return rows


# --- comparing ---------------------------------------------------------------------------------------------


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Dakar is on UTC all year: a business day is a UTC day."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def our_payments(session: Session, provider: str, day: dt.date) -> list[OnlinePayment]:
    """Our payments of ``provider`` paid on ``day`` (refunded ones included)."""
    start, end = _day_bounds(day)
    return list(
        session.scalars(
            select(OnlinePayment)
            .where(
                OnlinePayment.provider == provider,
                OnlinePayment.status.in_(PAID),
                or_(
                    and_(OnlinePayment.succeeded_at >= start, OnlinePayment.succeeded_at < end),
                    and_(
                        OnlinePayment.succeeded_at.is_(None),
                        OnlinePayment.created_at >= start,
                        OnlinePayment.created_at < end,
                    ),
                ),
            )
            .order_by(OnlinePayment.id)
        )
    )


def _find(session: Session, provider: str, reference: str) -> OnlinePayment | None:
    """Ours by the provider's reference, or by our public id (Orange Money reports our order id)."""
    return session.scalar(
        select(OnlinePayment).where(
            OnlinePayment.provider == provider,
            or_(OnlinePayment.provider_ref == reference, OnlinePayment.public_id == reference),
        )
    )


def reconcile(
    session: Session,
    tenant: TenantRef,
    provider: str,
    day: dt.date,
    report_rows: Iterable[ReportRow],
    *,
    source: str = "file",
    actor: Actor | None = None,
    detects_missing_ours: bool = True,
) -> ReconciliationRun:
    """Compare and keep one item per difference; ``detects_missing_ours=False`` when the rows come from
    asking about our own payments (nothing of theirs can be missing from ours then)."""
    from payments.service import SYSTEM

    actor = actor or SYSTEM
    run = ReconciliationRun(provider=provider, day=day, source=source, status="running")
    session.add(run)
    session.flush()
    ours = our_payments(session, provider, day)
    seen: set[int] = set()
    items: list[ReconciliationItem] = []
    matched = 0
    for row in report_rows:
        payment = _find(session, provider, row.provider_ref)
        if not row.paid:
            continue  # a failed attempt at the provider: ours, if any, is checked below as missing_theirs
        if payment is None or payment.status not in PAID:
            if detects_missing_ours:
                items.append(
                    ReconciliationItem(
                        run_id=run.id, kind="missing_ours", provider_ref=row.provider_ref[:200],
                        payment_id=payment.id if payment is not None else None, their_amount=row.amount,
                    )
                )  # fmt: skip
            continue
        seen.add(payment.id)
        if payment.amount != row.amount:
            items.append(
                ReconciliationItem(
                    run_id=run.id, kind="amount_differs", provider_ref=row.provider_ref[:200],
                    payment_id=payment.id, our_amount=payment.amount, their_amount=row.amount,
                )
            )  # fmt: skip
        else:
            matched += 1
    for payment in ours:
        if payment.id not in seen:
            items.append(
                ReconciliationItem(
                    run_id=run.id, kind="missing_theirs", provider_ref=(payment.provider_ref or "")[:200],
                    payment_id=payment.id, our_amount=payment.amount,
                )
            )  # fmt: skip
    session.add_all(items)
    run.matched, run.differences = matched, len(items)
    run.status, run.finished_at = "done", utcnow()
    session.flush()
    record_event(
        session,
        actor,
        "payments.reconciled",
        target_type="reconciliation_run",
        target_id=run.public_id,
        provider=provider,
        day=day.isoformat(),
        source=source,
        matched=matched,
        differences=len(items),
        by_kind={k: sum(1 for i in items if i.kind == k) for k in KIND_LABELS},
    )
    return run


# --- the provider as the source ----------------------------------------------------------------------------


def sandbox_report(session: Session, day: dt.date) -> list[ReportRow]:
    """The Sandbox's own ledger for ``day``: what its "phone" accepted."""
    start, end = _day_bounds(day)
    when = func.coalesce(SandboxCharge.answered_at, SandboxCharge.created_at)
    charges = session.scalars(
        select(SandboxCharge).where(when >= start, when < end).order_by(SandboxCharge.id)
    ).all()
    return [ReportRow(c.provider_ref, c.amount, c.status) for c in charges]


def reconcile_from_provider(
    session: Session, tenant: TenantRef, provider: str, day: dt.date, *, actor: Actor | None = None
) -> ReconciliationRun:
    """Reconcile without a file: the Sandbox's ledger, or ``fetch_status`` on each of our payments."""
    if provider == registry.DEFAULT:
        return reconcile(
            session, tenant, provider, day, sandbox_report(session, day), source="api", actor=actor
        )
    adapter = registry.provider_for(tenant, provider)
    rows, errors = [], []
    for payment in our_payments(session, provider, day):
        try:
            status = adapter.fetch_status(payment.provider_ref or "")
        except ProviderError as failed:
            errors.append(f"{payment.public_id}: {failed}"[:300])
            continue
        rows.append(ReportRow(payment.provider_ref or "", status.amount, status.status.value))
    run = reconcile(
        session, tenant, provider, day, rows, source="api", actor=actor, detects_missing_ours=False
    )
    if errors:
        run.error = "\n".join(errors)[:5000]
        session.flush()
    return run


# --- screens' helpers --------------------------------------------------------------------------------------


def get_run(session: Session, public_id: str) -> ReconciliationRun:
    run = session.scalar(select(ReconciliationRun).where(ReconciliationRun.public_id == public_id))
    if run is None:
        raise NotFound(_l("Rapprochement introuvable."))
    return run


def items_of(session: Session, run: ReconciliationRun) -> list[ReconciliationItem]:
    return list(
        session.scalars(
            select(ReconciliationItem)
            .where(ReconciliationItem.run_id == run.id)
            .order_by(ReconciliationItem.id)
        )
    )


def recent_runs(session: Session, limit: int = 100) -> list[ReconciliationRun]:
    newest = (ReconciliationRun.created_at.desc(), ReconciliationRun.id.desc())
    return list(session.scalars(select(ReconciliationRun).order_by(*newest).limit(limit)))


def resolve_item(session: Session, actor: Actor, item: ReconciliationItem, comment: str | None) -> None:
    """Close a difference with what was found or done (the comment is required and kept)."""
    text = (comment or "").strip()
    if not text:
        raise FieldError("comment", _l("Dites ce qui a été constaté ou fait."))
    if len(text) > 500:
        raise FieldError("comment", _l("500 caractères au plus."))
    if item.resolved_at is not None:
        raise FieldError("comment", _l("Cet écart est déjà traité."))
    item.resolved_at, item.resolved_by_label, item.comment = utcnow(), actor.label[:200], text
    session.flush()
    record_event(
        session,
        actor,
        "payments.reconciliation_resolved",
        target_type="reconciliation_item",
        target_id=item.id,
        kind=item.kind,
        provider_ref=item.provider_ref,
        comment=text,
    )
