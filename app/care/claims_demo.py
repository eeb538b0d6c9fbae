"""Demo care records and invoices: five months of care at each demo mutual's providers, one invoice per
provider and month, in every state — the oldest paid in a payment batch, the next validated, the last
month's checked (some lines still in the médecin-conseil's queue), the current month's a draft. Some asked
prices are above the convention's, some acts are not covered, a few lines are duplicates: the controls find
them. Deterministic; runs once per mutual (skipped when the mutual already has invoices)."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.care import batches, conventions, invoices, records, review
from app.care.claims_models import CareInvoice, InvoiceSource, InvoiceStatus
from app.care.controls import ReviewStatus
from app.care.models import CareProvider, ProviderStatus
from app.contributions.models import Subscription
from app.coverage.models import Benefit
from app.database import utcnow
from app.errors import DomainError
from app.members.models import Member, MemberStatus
from app.security.actor import Actor
from tenants.context import TenantRef, tenant_scope

ACTOR = Actor.system("démo soins")
MONTHS = 5
PROVIDERS = 4
VISITS = 12


def _month_start(day: dt.date, back: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def _priced(session: Session, provider: CareProvider, day: dt.date, benefits: list[Benefit]) -> list[tuple]:
    found = []
    for benefit in benefits:
        price = conventions.agreed_price(session, provider.id, benefit.id, day)
        if price:
            found.append((benefit, price))
    return found


def generate(session: Session, tenant: TenantRef) -> int:
    """The mutual's demo invoices; returns how many were created."""
    rng = random.Random(f"claims:{tenant.slug}")  # noqa: S311 - demo data
    today = clock.today()
    created = 0
    with tenant_scope(session, tenant):
        if session.scalar(select(CareInvoice.id).limit(1)) is not None:
            return 0
        providers = list(
            session.scalars(
                select(CareProvider)
                .where(CareProvider.status == ProviderStatus.active)
                .order_by(CareProvider.id)
            )
        )[:PROVIDERS]
        principals = list(
            session.scalars(select(Subscription.member_id).distinct().order_by(Subscription.member_id))
        )
        people = list(
            session.scalars(
                select(Member).where(
                    (Member.id.in_(principals)) | (Member.principal_id.in_(principals)),
                    Member.status == MemberStatus.active,
                )
            )
        )
        benefits = list(
            session.scalars(select(Benefit).where(Benefit.active.is_(True)).order_by(Benefit.code))
        )
        if not providers or not people or not benefits:
            return 0
        for back in range(MONTHS - 1, -1, -1):
            start = _month_start(today, back)
            end = min(_month_start(today, back - 1) - dt.timedelta(days=1), today)
            for provider in providers:
                priced = _priced(session, provider, start, rng.sample(benefits, min(20, len(benefits))))
                if not priced:
                    continue
                invoice = invoices.create_invoice(
                    session,
                    tenant,
                    ACTOR,
                    provider,
                    period_start=start,
                    period_end=end,
                    source=rng.choice((InvoiceSource.provider, InvoiceSource.provider, InvoiceSource.upload)),
                )
                for _visit in range(VISITS):
                    member = rng.choice(people)
                    day = start + dt.timedelta(days=rng.randint(0, (end - start).days))
                    lines = []
                    for benefit, price in rng.sample(priced, min(len(priced), rng.randint(1, 3))):
                        asked = price if rng.random() > 0.15 else price * 11 // 10
                        quantity = rng.randint(1, 10) if benefit.category == "medicine" else 1
                        lines.append(records.LineInput(benefit.code, quantity, asked))
                    if rng.random() < 0.1:  # an act of the catalogue this provider has no price for
                        lines.append(records.LineInput(rng.choice(benefits).code, 1, 5000))
                    try:
                        records.create_record(
                            session,
                            tenant,
                            ACTOR,
                            provider,
                            records.RecordInput(
                                member_number=member.number,
                                care_date=day,
                                lines=lines,
                                prescriber=rng.choice(("Dr Ndiaye", "Dr Fall", "Dr Sow", "Sage-femme Ba")),
                            ),
                            invoice=invoice,
                            audit=False,
                        )
                    except DomainError:
                        continue
                created += 1
                if back == 0:
                    continue  # the current month stays a draft
                invoices.submit_invoice(session, tenant, ACTOR, invoice)
                invoices.check_invoices(session, tenant, [invoice.id], ACTOR)
                if back >= 2:  # the médecin-conseil has reviewed older months; they are validated
                    _review_all(session, tenant, invoice, rng)
                    if invoice.status is InvoiceStatus.checked:
                        invoices.validate_invoice(session, tenant, ACTOR, invoice)
                _as_if_processed_over_days(invoice, end, rng)
            if back >= 3:
                try:
                    batch = batches.create_batch(session, tenant, ACTOR)
                    batches.mark_paid(session, tenant, ACTOR, batch)
                except DomainError:
                    pass
            session.flush()
    return created


def _as_if_processed_over_days(invoice: CareInvoice, period_end: dt.date, rng: random.Random) -> None:
    """Demo invoices are processed in one run; date them as a provider and a mutual would have, so the
    processing-time indicator shows days, not seconds."""
    submitted = dt.datetime.combine(period_end + dt.timedelta(days=rng.randint(1, 5)), dt.time(9), dt.UTC)
    now = utcnow()
    invoice.submitted_at = invoice.checked_at = min(submitted, now)
    if invoice.validated_at is not None:
        invoice.validated_at = min(submitted + dt.timedelta(days=rng.randint(4, 20), hours=3), now)


def _review_all(session: Session, tenant: TenantRef, invoice: CareInvoice, rng: random.Random) -> None:
    for record in invoice.records:
        for line in record.lines:
            if line.review_status is ReviewStatus.pending:
                if rng.random() < 0.8:
                    review.decide(session, tenant, ACTOR, line, decision="confirm")
                else:
                    basis = (line.agreed_unit_price or line.unit_price_asked) * line.quantity
                    review.decide(
                        session,
                        tenant,
                        ACTOR,
                        line,
                        decision="override",
                        amount=basis * 8 // 10,
                        note="Prise en charge à 80 % après vérification du dossier",
                    )


def generate_all(session: Session) -> None:
    """Every demo mutual's invoices (after the providers' demo), committed per mutual."""
    from app.demo import TENANTS
    from tenants import services as tenants

    for slug, _name, _sector, _federation in TENANTS:
        tenant = tenants.find_tenant(session, slug)
        if tenant is None:
            continue
        generate(session, TenantRef.of(tenant))
        session.commit()
