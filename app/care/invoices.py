"""Provider invoices (bordereaux): draft → submitted → checked (controls and valuation) → in_review (while
lines await the médecin-conseil) → validated (critical: step-up) → paid (in a payment batch); or rejected
when no line is payable.

``check_invoices`` checks and values a batch of invoices at once: the facts are read set-based
(``controls.gather``), the lines valued in care-date order (``valuation.assess``), the results written with
one executemany and the totals with one UPDATE. It runs in the request for a small invoice and as the
Celery job ``care.check_invoices`` for large ones. Every function runs in the tenant's scope, flushes and
never commits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, literal, select, text
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_event
from app.care import controls, records
from app.care.claims_models import (
    CareInvoice,
    CareLine,
    CareRecord,
    CeilingAlert,
    InvoiceSource,
    InvoiceStatus,
)
from app.care.controls import Outcome, ReviewStatus
from app.care.models import CareProvider
from app.care.valuation import Consumption, assess
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security import stepup
from app.security.actor import Actor
from tenants.context import TenantRef

#: The check runs in the request up to this many lines; beyond, as a Celery job.
INLINE_LINES = 300
#: A beneficiary at this share of a ceiling raises a ceiling alert.
ALERT_PERCENT = 80
SYSTEM = Actor.system("contrôle des factures")
_LOCK_NAMESPACE = 0x4D4346  # "MCF": invoice and batch numbers
_NUMBER = re.compile(r"^(FAC|LOT)-(\d{4})-(\d{6})$")

STATUS_LABELS: dict[str, object] = {
    InvoiceStatus.draft: _l("Brouillon"),
    InvoiceStatus.submitted: _l("Soumise"),
    InvoiceStatus.checked: _l("Contrôlée"),
    InvoiceStatus.in_review: _l("En contrôle médical"),
    InvoiceStatus.validated: _l("Validée"),
    InvoiceStatus.paid: _l("Payée"),
    InvoiceStatus.rejected: _l("Rejetée"),
}
SOURCE_LABELS: dict[str, object] = {
    InvoiceSource.provider: _l("Espace prestataire"),
    InvoiceSource.agent: _l("Saisie par un agent"),
    InvoiceSource.api: _l("API (FHIR)"),
    InvoiceSource.upload: _l("Fichier CSV/XLSX"),
}


def next_number(session: Session, prefix: str, model: type[Any], year: int) -> str:
    """``FAC-2026-000123`` (invoices) / ``LOT-2026-000012`` (payment batches): gapless per mutual and year,
    ``max + 1`` under a transaction-scoped advisory lock."""
    session.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": _LOCK_NAMESPACE, "b": year})
    start = f"{prefix}-{year}-"
    last = session.scalar(select(func.max(model.number)).where(model.number.like(f"{start}%")))
    sequence = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{start}{sequence:06d}"


def get_invoice(session: Session, actor: Actor, public_id: str) -> CareInvoice:
    invoice = session.scalar(select(CareInvoice).where(CareInvoice.public_id == public_id))
    if invoice is None:
        raise NotFound(_l("Facture introuvable."))
    own = records.own_provider_id(session, actor)
    if own is not None and own != invoice.provider_id:
        raise NotFound(_l("Facture introuvable."))
    return invoice


def create_invoice(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    provider: CareProvider,
    *,
    period_start: dt.date,
    period_end: dt.date,
    source: InvoiceSource = InvoiceSource.provider,
    external_ref: str | None = None,
) -> CareInvoice:
    """A draft invoice of ``provider`` for a period (at most a quarter)."""
    records.check_provider(session, actor, provider.id)
    if period_end < period_start:
        raise FieldError("period_end", _l("La fin de période précède son début."))
    if (period_end - period_start).days > 92:
        raise FieldError("period_end", _l("Une facture couvre au plus trois mois."))
    if period_start > clock.today():
        raise FieldError("period_start", _l("La période ne peut pas commencer dans le futur."))
    if external_ref:
        again = session.scalar(
            select(CareInvoice).where(
                CareInvoice.provider_id == provider.id, CareInvoice.external_ref == external_ref
            )
        )
        if again is not None:
            return again
    invoice = CareInvoice(
        number=next_number(session, "FAC", CareInvoice, clock.today().year),
        provider_id=provider.id,
        period_start=period_start,
        period_end=period_end,
        status=InvoiceStatus.draft,
        source=source,
        external_ref=external_ref,
        created_by_label=actor.label,
    )
    session.add(invoice)
    session.flush()
    record_event(
        session,
        actor,
        "care.invoice_created",
        target_type="care_invoice",
        target_id=invoice.number,
        after={
            "provider": provider.code,
            "period_start": period_start.isoformat(),
            "period_end": period_end.isoformat(),
            "source": str(source),
        },
    )
    return invoice


def line_count(session: Session, invoice: CareInvoice) -> int:
    return (
        session.scalar(
            select(func.count(CareLine.id))
            .join(CareRecord, CareRecord.id == CareLine.record_id)
            .where(CareRecord.invoice_id == invoice.id)
        )
        or 0
    )


def submit_invoice(session: Session, tenant: TenantRef, actor: Actor, invoice: CareInvoice) -> CareInvoice:
    """draft → submitted; nothing can change afterwards. The caller checks it (inline or as a job)."""
    records.check_provider(session, actor, invoice.provider_id)
    if invoice.status is not InvoiceStatus.draft:
        raise FieldError("invoice", _l("Cette facture est déjà soumise."))
    if line_count(session, invoice) == 0:
        raise FieldError("invoice", _l("Une facture sans prestation ne peut pas être soumise."))
    invoice.status = InvoiceStatus.submitted
    invoice.submitted_at = utcnow()
    _refresh_totals(session, [invoice.id])
    record_event(
        session,
        actor,
        "care.invoice_submitted",
        target_type="care_invoice",
        target_id=invoice.number,
        before={"status": "draft"},
        after={"status": "submitted", "amount_asked": invoice.amount_asked},
    )
    return invoice


def _refresh_totals(session: Session, invoice_ids: Sequence[int]) -> None:
    """The invoices' totals from their lines (one query; the rows are loaded, changed and flushed)."""
    totals = {
        row.invoice_id: row
        for row in session.execute(
            select(
                CareRecord.invoice_id,
                func.coalesce(func.sum(CareLine.amount_asked), 0).label("asked"),
                func.coalesce(func.sum(CareLine.amount_accepted), 0).label("accepted"),
                func.coalesce(func.sum(CareLine.member_share), 0).label("member"),
            )
            .join(CareLine, CareLine.record_id == CareRecord.id)
            .where(CareRecord.invoice_id.in_(invoice_ids))
            .group_by(CareRecord.invoice_id)
        )
    }
    for invoice in session.scalars(select(CareInvoice).where(CareInvoice.id.in_(invoice_ids))):
        row = totals.get(invoice.id)
        invoice.amount_asked = int(row.asked) if row else 0
        invoice.amount_accepted = int(row.accepted) if row else 0
        invoice.member_share = int(row.member) if row else 0
    session.flush()


#: One UPDATE for a whole batch of results (arrays unnested), rather than one statement per line.
_WRITE_RESULTS = text(
    """
    UPDATE care_lines AS l SET agreed_unit_price = v.agreed, quantity_accepted = v.quantity,
        amount_accepted = v.accepted, member_share = v.member, outcome = v.outcome,
        reason_codes = CASE WHEN v.codes = '' THEN ARRAY[]::varchar[]
                            ELSE string_to_array(v.codes, ',')::varchar[] END,
        product_benefit_id = v.rule, needs_review = v.review,
        review_status = CASE WHEN v.review THEN 'pending' ELSE 'none' END
    FROM unnest(CAST(:ids AS int[]), CAST(:agreed AS int[]), CAST(:quantity AS int[]),
                CAST(:accepted AS bigint[]), CAST(:member AS bigint[]), CAST(:outcome AS varchar[]),
                CAST(:codes AS text[]), CAST(:rule AS int[]), CAST(:review AS boolean[]))
         AS v(id, agreed, quantity, accepted, member, outcome, codes, rule, review)
    WHERE l.id = v.id
    """
)


def _write_results(session: Session, results: Sequence[Any]) -> None:
    if not results:
        return
    session.execute(
        _WRITE_RESULTS,
        {
            "ids": [r.line_id for r in results],
            "agreed": [r.agreed_unit_price for r in results],
            "quantity": [r.quantity_accepted for r in results],
            "accepted": [r.amount_accepted for r in results],
            "member": [r.member_share for r in results],
            "outcome": [str(r.outcome) for r in results],
            "codes": [",".join(r.reason_codes) for r in results],
            "rule": [r.rule_id for r in results],
            "review": [r.needs_review for r in results],
        },
    )


@dataclass
class CheckReport:
    invoices: int = 0
    lines: int = 0
    accepted: int = 0
    reduced: int = 0
    rejected: int = 0
    review: int = 0
    alerts: int = 0
    amount_accepted: int = 0
    statuses: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_invoices(
    session: Session, tenant: TenantRef, invoice_ids: Sequence[int], actor: Actor = SYSTEM
) -> CheckReport:
    """Run the controls and the valuation on every line of these invoices (submitted, or checked again),
    write the outcomes, move each invoice to checked / in_review / rejected, raise ceiling alerts."""
    report = CheckReport()
    invoices = session.scalars(
        select(CareInvoice)
        .where(
            CareInvoice.id.in_(invoice_ids),
            CareInvoice.status.in_((InvoiceStatus.submitted, InvoiceStatus.checked, InvoiceStatus.in_review)),
        )
        .with_for_update()
    ).all()
    ids = [i.id for i in invoices]
    if not ids:
        return report
    session.flush()
    batch = controls.gather(session, ids)
    consumption: Consumption = batch.consumption  # type: ignore[assignment]
    results = assess(batch.facts, consumption)
    reviewed = _reviewed_lines(session, ids)
    rows = []
    for result in results:
        if result.line_id in reviewed:  # the médecin-conseil's decision stands
            continue
        rows.append(result)
        report.lines += 1
        setattr(report, str(result.outcome), getattr(report, str(result.outcome)) + 1)
        report.review += int(result.needs_review)
        report.amount_accepted += result.amount_accepted
    _write_results(session, rows)
    for loaded in [o for o in session.identity_map.values() if isinstance(o, CareLine)]:
        session.expire(loaded)  # lines changed behind the ORM's back
    _refresh_totals(session, ids)
    pending = dict(
        session.execute(
            select(CareRecord.invoice_id, func.count(CareLine.id))
            .join(CareLine, CareLine.record_id == CareRecord.id)
            .where(CareRecord.invoice_id.in_(ids), CareLine.review_status == ReviewStatus.pending)
            .group_by(CareRecord.invoice_id)
        ).all()
    )
    payable = dict(
        session.execute(
            select(CareRecord.invoice_id, func.count(CareLine.id))
            .join(CareLine, CareLine.record_id == CareRecord.id)
            .where(CareRecord.invoice_id.in_(ids), CareLine.outcome != Outcome.rejected)
            .group_by(CareRecord.invoice_id)
        ).all()
    )
    now = utcnow()
    for invoice in invoices:
        before = str(invoice.status)
        if pending.get(invoice.id):
            invoice.status = InvoiceStatus.in_review
        elif payable.get(invoice.id):
            invoice.status = InvoiceStatus.checked
        else:
            invoice.status = InvoiceStatus.rejected
        invoice.checked_at = now
        report.statuses[invoice.number] = str(invoice.status)
        record_event(
            session,
            actor,
            "care.invoice_checked",
            target_type="care_invoice",
            target_id=invoice.number,
            before={"status": before},
            after={
                "status": str(invoice.status),
                "amount_asked": invoice.amount_asked,
                "amount_accepted": invoice.amount_accepted,
                "member_share": invoice.member_share,
            },
        )
    report.invoices = len(invoices)
    report.alerts = raise_ceiling_alerts(session, tenant, consumption, batch.rules)
    session.flush()
    return report


def _reviewed_lines(session: Session, invoice_ids: Sequence[int]) -> set[int]:
    return set(
        session.scalars(
            select(CareLine.id)
            .join(CareRecord, CareRecord.id == CareLine.record_id)
            .where(
                CareRecord.invoice_id.in_(invoice_ids),
                CareLine.review_status.in_((ReviewStatus.confirmed, ReviewStatus.overridden)),
            )
        )
    )


# --- ceiling alerts ----------------------------------------------------------------------------------------


def raise_ceiling_alerts(
    session: Session, tenant: TenantRef, consumption: Consumption, rules: dict[int, controls.Rule]
) -> int:
    """A ``ceiling_alerts`` row (once per beneficiary, rule and year) for each beneficiary whose own or
    household consumption reached ``ALERT_PERCENT`` of a ceiling in this batch; managers are told."""
    from sqlalchemy.dialects.postgresql import insert

    candidates = []
    for member_id, household_id, rule_id, year in sorted(consumption.touched):
        rule = rules.get(rule_id)
        if rule is None:
            continue
        for ceiling, used in (
            (rule.ceiling_per_beneficiary_year, consumption.member.get((member_id, rule_id, year), 0)),
            (rule.ceiling_per_household_year, consumption.household.get((household_id, rule_id, year), 0)),
        ):
            if ceiling and used * 100 >= ceiling * ALERT_PERCENT:
                candidates.append(
                    {
                        "member_id": member_id,
                        "product_benefit_id": rule_id,
                        "year": year,
                        "consumed": used,
                        "ceiling": ceiling,
                        "raised_at": utcnow(),
                    }
                )
                break
    if not candidates:
        return 0
    created = session.execute(
        insert(CeilingAlert)
        .values(candidates)
        .on_conflict_do_nothing(constraint="uq_ceiling_alerts_member_rule_year")
        .returning(
            CeilingAlert.id,
            CeilingAlert.member_id,
            CeilingAlert.product_benefit_id,
            CeilingAlert.consumed,
            CeilingAlert.ceiling,
        )
    ).all()
    if created:
        _tell_managers(session, tenant, created)
    return len(created)


def manager_accounts(session: Session, tenant: TenantRef) -> list[int]:
    """Accounts holding the mutual manager's profile on the mutual's branch (or above it)."""
    from app.coverage.products import branch_path
    from app.security.models import Grant, Profile
    from hierarchy.models import Node

    branch = branch_path(session, tenant)
    return sorted(
        set(
            session.scalars(
                select(Grant.account_id)
                .join(Profile, Profile.id == Grant.profile_id)
                .join(Node, Node.id == Grant.node_id)
                .where(
                    Profile.code == "mutual_manager",
                    literal(branch).startswith(Node.path) | Node.path.startswith(branch),
                )
            )
        )
    )


def _tell_managers(session: Session, tenant: TenantRef, created: Sequence[Any]) -> None:
    from app.coverage.models import ProductBenefit
    from app.formatting import money
    from app.members.models import Member

    try:
        from notifications.services import notify_staff
    except ImportError:  # pragma: no cover - the notifications module is built alongside
        return
    accounts = manager_accounts(session, tenant)
    if not accounts:
        return
    for alert in created:
        member = session.get(Member, alert.member_id)
        pb = session.get(ProductBenefit, alert.product_benefit_id)
        if member is None or pb is None:
            continue
        notify_staff(
            session,
            SYSTEM,
            event="care.ceiling_near",
            account_ids=accounts,
            context={
                "member_number": member.number,
                "benefit_label": pb.benefit.name,
                "remaining": money(max(0, alert.ceiling - alert.consumed)),
            },
        )


# --- validation (critical) ---------------------------------------------------------------------------------


def validation_operation(invoice: CareInvoice, provider: CareProvider) -> stepup.Operation:
    from app.formatting import money

    return stepup.Operation(
        "care.validate_invoice",
        {"invoice": invoice.public_id, "amount_accepted": invoice.amount_accepted},
        (
            (_l("Facture"), invoice.number),
            (_l("Prestataire"), provider.name),
            (_l("Montant demandé"), money(invoice.amount_asked)),
            (_l("Part de la mutuelle à payer"), money(invoice.amount_accepted)),
        ),
    )


def check_validable(session: Session, actor: Actor, invoice: CareInvoice) -> None:
    actor.require("care.validate_invoice")
    if records.own_provider_id(session, actor) is not None:
        raise FieldError("invoice", _l("Un prestataire ne valide pas ses propres factures."))
    if invoice.status is InvoiceStatus.in_review:
        raise FieldError("invoice", _l("Des lignes attendent encore le contrôle médical."))
    if invoice.status is not InvoiceStatus.checked:
        raise FieldError("invoice", _l("Seule une facture contrôlée peut être validée."))


def validate_invoice(session: Session, tenant: TenantRef, actor: Actor, invoice: CareInvoice) -> CareInvoice:
    """checked → validated: the amounts are final; the guarantee letters the lines used are consumed. The
    view authorizes the step-up before calling this."""
    check_validable(session, actor, invoice)
    invoice.status = InvoiceStatus.validated
    invoice.validated_at = utcnow()
    invoice.validated_by_label = actor.label
    _consume_letters(session, tenant, actor, invoice)
    record_event(
        session,
        actor,
        "care.invoice_validated",
        target_type="care_invoice",
        target_id=invoice.number,
        before={"status": "checked"},
        after={
            "status": "validated",
            "amount_accepted": invoice.amount_accepted,
            "member_share": invoice.member_share,
        },
    )
    session.flush()
    return invoice


def _consume_letters(session: Session, tenant: TenantRef, actor: Actor, invoice: CareInvoice) -> None:
    """The guarantee letters named by the invoice's records give up the quantities their accepted lines
    used (``app.care.letters.consume``)."""
    from app.care import letters

    for record in invoice.records:
        if record.guarantee_letter_id is None:
            continue
        for ln in record.lines:
            if ln.outcome in (Outcome.accepted, Outcome.reduced) and ln.quantity_accepted:
                letters.consume(
                    session,
                    record.guarantee_letter_id,
                    ln.benefit_id,
                    ln.quantity_accepted,
                    record.care_date,
                    provider_id=record.provider_id,
                )
