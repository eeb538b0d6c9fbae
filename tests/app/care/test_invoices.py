"""Invoices on the real database: records entered, submitted, checked and valued (each control reading real
rows: rights, product rules, conventions, guarantee letters, other invoices), ceilings reached mid-invoice,
duplicates across invoices, a price-list change after submission, the consumption hooks of the rights, and
ceiling alerts. The building blocks here are reused by the other claims tests."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.care import conventions, invoices, records
from app.care.claims_models import CareInvoice, CareLine, CeilingAlert, InvoiceStatus
from app.care.models import (
    CareProvider,
    Convention,
    ConventionStatus,
    GuaranteeLetter,
    GuaranteeLetterItem,
    LetterStatus,
    ProviderKind,
)
from app.care.records import LineInput, RecordInput
from app.coverage import rights
from app.coverage.models import Benefit, BenefitCategory, Product, ProductBenefit
from app.errors import FieldError
from app.members import services
from app.members.models import Member
from app.members.services import ConsentInput
from tenants.context import TenantRef, tenant_scope
from tests.app.coverage.test_rights import dependant, enrol, make_product, person, subscribe
from tests.fixtures.app import SYSTEM, node

D = dt.date
TODAY = "2027-04-30"


def tag() -> str:
    return uuid.uuid4().hex[:6].upper()


@dataclass
class Care:
    """A provider under convention, a product and a covered household (adhérent and a spouse)."""

    tenant: TenantRef
    provider: CareProvider
    convention: Convention
    product: Product
    principal: Member
    spouse: Member
    benefits: dict[str, Benefit]
    rules: dict[str, ProductBenefit]


#: code → (name, category, agreed price, product rule or None when the product does not cover it)
ACTS: dict[str, tuple[str, BenefitCategory, int, dict[str, Any] | None]] = {
    "CONS": ("Consultation", BenefitCategory.consultation, 3000, {"rate_percent": 80}),
    "HOSP": (
        "Hospitalisation",
        BenefitCategory.hospitalisation,
        15000,
        {"rate_percent": 80, "ceiling_per_beneficiary_year": 20000},
    ),
    "ECHO": ("Échographie", BenefitCategory.imaging, 15000, {"rate_percent": 70, "prior_approval": True}),
    "ACC": (
        "Accouchement",
        BenefitCategory.maternity,
        25000,
        {"rate_percent": 100, "sex": "F", "min_age": 12},
    ),
    "OPT": ("Lunettes", BenefitCategory.optical, 30000, None),
    "DENT": (
        "Extraction",
        BenefitCategory.dental,
        5000,
        {"rate_percent": 70, "ceiling_per_household_year": 6000},
    ),
    "LUN": (
        "Monture",
        BenefitCategory.optical,
        20000,
        {"rate_percent": 70, "frequency_count": 1, "frequency_months": 24},
    ),
}


def build_care(session: Session, tenant: TenantRef, association_id: int | None = None) -> Care:
    provider = CareProvider(
        code=f"PS-{tag()}",
        name=f"Centre de santé {tag()}",
        kind=ProviderKind.health_centre,
        region="Dakar",
        commune="Pikine",
    )
    session.add(provider)
    session.flush()
    product = make_product(session)  # from 2026, 30 days of waiting
    benefits, rules = {}, {}
    for code, (name, category, _price, rule) in ACTS.items():
        benefit = Benefit(code=f"{code}-{tag()}", name=name, category=category, reference_price=_price)
        session.add(benefit)
        session.flush()
        benefits[code] = benefit
        if rule is not None:
            rules[code] = ProductBenefit(product_id=product.id, benefit_id=benefit.id, **rule)
            session.add(rules[code])
    session.flush()
    session.refresh(product)
    convention = conventions.create_convention(
        session,
        tenant,
        SYSTEM,
        provider,
        reference=f"CONV-{tag()}",
        starts_on=D(2027, 1, 1),
        status=ConventionStatus.draft,
    )
    for code, (_name, _category, price, _rule) in ACTS.items():
        conventions.set_price(session, tenant, SYSTEM, convention, benefits[code], price)
    conventions.set_status(session, tenant, SYSTEM, convention, ConventionStatus.active)
    principal = services.enrol(
        session,
        tenant,
        SYSTEM,
        person=person(phone=f"77{uuid.uuid4().int % 10**7:07d}"),
        association_id=association_id or node("ASS-A").id,
        sector="artisanat",
        dependants=[dependant("spouse", "1985-05-05", "F")],
        consent=ConsentInput(given_on=D(2026, 1, 1)),
        enrolled_on=D(2027, 1, 1),
        today=D(2027, 1, 1),
        allow_duplicates=True,
    )
    subscribe(session, principal, product, D(2027, 1, 1))  # covered from 31 January 2027
    spouse = next(m for m in session.scalars(select(Member).where(Member.principal_id == principal.id)))
    return Care(tenant, provider, convention, product, principal, spouse, benefits, rules)


@pytest.fixture
def alpha(session: Session, world: Any, app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    with tenant_scope(session, world.alpha):
        yield session
        session.rollback()


@pytest.fixture
def care(alpha: Session, world: Any) -> Care:
    return build_care(alpha, world.alpha)


def line(care: Care, code: str, quantity: int = 1, price: int | None = None) -> LineInput:
    return LineInput(care.benefits[code].code, quantity, ACTS[code][2] if price is None else price)


def new_invoice(
    session: Session, care: Care, start: dt.date | None = None, end: dt.date | None = None
) -> CareInvoice:
    start, end = start or D(2027, 3, 1), end or D(2027, 3, 31)
    return invoices.create_invoice(
        session, care.tenant, SYSTEM, care.provider, period_start=start, period_end=end
    )


def add(
    session: Session,
    care: Care,
    invoice: CareInvoice,
    day: dt.date,
    *lines: LineInput,
    member: Member | None = None,
    letter: str | None = None,
) -> Any:
    data = RecordInput(
        member_number=(member or care.principal).number,
        care_date=day,
        lines=list(lines),
        prescriber="Dr Ndiaye",
        letter_number=letter,
    )
    return records.create_record(session, care.tenant, SYSTEM, care.provider, data, invoice=invoice)


def submit_and_check(session: Session, care: Care, invoice: CareInvoice) -> invoices.CheckReport:
    invoices.submit_invoice(session, care.tenant, SYSTEM, invoice)
    return invoices.check_invoices(session, care.tenant, [invoice.id])


def lines_of(session: Session, invoice: CareInvoice) -> list[CareLine]:
    session.expire_all()
    return [ln for record in session.get(CareInvoice, invoice.id).records for ln in record.lines]


def summary(ln: CareLine) -> tuple[Any, ...]:
    return (str(ln.outcome), ln.amount_accepted, ln.member_share, list(ln.reason_codes))


# --- the tests ---------------------------------------------------------------------------------------------


def test_a_clean_invoice_is_valued_and_checked(alpha: Session, care: Care) -> None:
    invoice = new_invoice(alpha, care)
    add(alpha, care, invoice, D(2027, 3, 5), line(care, "CONS", 1), line(care, "HOSP", 1))
    report = submit_and_check(alpha, care, invoice)
    assert report.statuses == {invoice.number: "checked"}
    consult, hosp = lines_of(alpha, invoice)
    assert summary(consult) == ("accepted", 2400, 600, [])
    assert summary(hosp) == ("accepted", 12000, 3000, [])
    assert (invoice.amount_asked, invoice.amount_accepted, invoice.member_share) == (18000, 14400, 3600)


def test_each_control_on_real_rows(alpha: Session, care: Care) -> None:
    invoice = new_invoice(alpha, care, D(2027, 1, 1), D(2027, 3, 31))
    add(alpha, care, invoice, D(2027, 1, 10), line(care, "CONS"))  # waiting period until 30 January
    add(alpha, care, invoice, D(2027, 3, 2), line(care, "OPT"))  # not in the product
    add(alpha, care, invoice, D(2027, 3, 3), line(care, "ACC"))  # the adhérent is a man
    add(alpha, care, invoice, D(2027, 3, 4), line(care, "ECHO"))  # needs prior approval
    add(alpha, care, invoice, D(2027, 3, 5), line(care, "CONS", 1, 3500))  # above the agreed price
    submit_and_check(alpha, care, invoice)
    waiting, opt, acc, echo, above = lines_of(alpha, invoice)
    assert summary(waiting) == ("rejected", 0, 3000, ["waiting_period"])
    assert summary(opt) == ("rejected", 0, 30000, ["benefit_not_covered"])
    assert summary(acc) == ("rejected", 0, 25000, ["sex_limit"])
    assert summary(echo) == ("rejected", 0, 15000, ["prior_approval_missing"])
    assert summary(above) == ("reduced", 2400, 600, ["price_above_agreed"])
    assert above.needs_review and str(above.review_status) == "pending"
    assert str(invoice.status) == "in_review"


def test_not_covered_member_and_no_convention(alpha: Session, care: Care, world: Any) -> None:
    other = CareProvider(code=f"PS-{tag()}", name="Sans convention", kind=ProviderKind.pharmacy)
    alpha.add(other)
    alpha.flush()
    invoice = invoices.create_invoice(
        alpha, care.tenant, SYSTEM, other, period_start=D(2027, 3, 1), period_end=D(2027, 3, 31)
    )
    data = RecordInput(
        member_number=care.principal.number, care_date=D(2027, 3, 5), lines=[line(care, "CONS")]
    )
    records.create_record(alpha, care.tenant, SYSTEM, other, data, invoice=invoice)
    stranger = enrol(alpha, world.alpha, on=D(2027, 1, 1))  # no subscription
    data = RecordInput(member_number=stranger.number, care_date=D(2027, 3, 5), lines=[line(care, "CONS")])
    records.create_record(alpha, care.tenant, SYSTEM, other, data, invoice=invoice)
    submit_and_check(alpha, care, invoice)
    no_convention, stranger_line = lines_of(alpha, invoice)
    assert summary(no_convention) == ("rejected", 0, 3000, ["no_convention"])
    assert stranger_line.reason_codes[:2] == ["not_covered", "benefit_not_covered"]
    assert str(invoice.status) == "rejected"


def test_prior_approval_given_by_an_approved_letter_item(alpha: Session, care: Care) -> None:
    letter = GuaranteeLetter(
        number=f"LG-2027-{tag()}",
        member_id=care.principal.id,
        provider_id=care.provider.id,
        issued_on=D(2027, 3, 1),
        valid_until=D(2027, 3, 31),
        estimated_amount=15000,
        status=LetterStatus.issued,
    )
    letter.items.append(
        GuaranteeLetterItem(
            benefit_id=care.benefits["ECHO"].id,
            quantity=1,
            unit_price=15000,
            needs_approval=True,
            approved=True,
        )
    )
    alpha.add(letter)
    alpha.flush()
    invoice = new_invoice(alpha, care)
    add(alpha, care, invoice, D(2027, 3, 4), line(care, "ECHO"), letter=letter.number)
    submit_and_check(alpha, care, invoice)
    [echo] = lines_of(alpha, invoice)
    assert summary(echo) == ("accepted", 10500, 4500, [])


def test_ceiling_reached_mid_invoice_then_counted_by_the_rights(alpha: Session, care: Care) -> None:
    invoice = new_invoice(alpha, care)
    # entered out of order: valued by care date (the 6th first, then the 8th)
    add(alpha, care, invoice, D(2027, 3, 8), line(care, "HOSP", 1))
    add(alpha, care, invoice, D(2027, 3, 6), line(care, "HOSP", 1))
    submit_and_check(alpha, care, invoice)
    eighth, sixth = lines_of(alpha, invoice)
    assert summary(sixth) == ("accepted", 12000, 3000, [])
    assert summary(eighth) == ("reduced", 8000, 7000, ["ceiling_beneficiary_year"])
    assert eighth.needs_review
    # the rights now see the ceiling used up (the consumption hook sums accepted care)
    found = rights.rights_on(alpha, care.tenant, care.principal, D(2027, 3, 31))
    [hosp] = [c for c in found.ceilings if c.product_benefit.id == care.rules["HOSP"].id]
    assert (hosp.beneficiary.consumed, hosp.beneficiary.remaining) == (20000, 0)
    assert rights.consumed(alpha, care.spouse, care.rules["HOSP"], 2027) == (0, 20000)
    assert rights.consumed(alpha, care.principal, care.rules["HOSP"], 2026) == (0, 0)
    # and a ceiling alert was raised once for the adhérent
    alerts = alpha.scalars(select(CeilingAlert).where(CeilingAlert.member_id == care.principal.id)).all()
    assert [(a.consumed, a.ceiling, a.year) for a in alerts] == [(20000, 20000, 2027)]
    # the mutual's managers are told (notifications' staff messages, written in this transaction)
    from notifications.models import StaffMessage

    told = alpha.scalars(select(StaffMessage).where(StaffMessage.event == "care.ceiling_near")).all()
    assert any(care.principal.number in (m.body or "") for m in told)
    # a later invoice finds nothing left: rejected with the ceiling's reason
    later = new_invoice(alpha, care)
    add(alpha, care, later, D(2027, 3, 20), line(care, "HOSP", 1))
    submit_and_check(alpha, care, later)
    [rejected] = lines_of(alpha, later)
    assert summary(rejected) == ("rejected", 0, 15000, ["ceiling_beneficiary_year"])
    assert (
        len(alpha.scalars(select(CeilingAlert).where(CeilingAlert.member_id == care.principal.id)).all()) == 1
    )


def test_household_ceiling_and_frequency_limit(alpha: Session, care: Care) -> None:
    invoice = new_invoice(alpha, care)
    add(alpha, care, invoice, D(2027, 3, 5), line(care, "DENT"), line(care, "LUN"))
    add(alpha, care, invoice, D(2027, 3, 6), line(care, "DENT"), member=care.spouse)
    add(alpha, care, invoice, D(2027, 3, 7), line(care, "LUN"))
    submit_and_check(alpha, care, invoice)
    dent, lun, spouse_dent, lun_again = lines_of(alpha, invoice)
    assert summary(dent) == ("accepted", 3500, 1500, [])
    assert summary(spouse_dent) == ("reduced", 2500, 2500, ["ceiling_household_year"])
    assert summary(lun) == ("accepted", 14000, 6000, [])
    assert summary(lun_again) == ("rejected", 0, 20000, ["frequency_limit"])
    assert (
        rights.consumed_times(alpha, care.principal, care.rules["LUN"], D(2027, 1, 1), D(2027, 12, 31)) == 1
    )


def test_duplicate_across_invoices(alpha: Session, care: Care) -> None:
    first = new_invoice(alpha, care)
    add(alpha, care, first, D(2027, 3, 5), line(care, "CONS"))
    submit_and_check(alpha, care, first)
    second = new_invoice(alpha, care)
    add(alpha, care, second, D(2027, 3, 5), line(care, "CONS"))
    add(alpha, care, second, D(2027, 3, 6), line(care, "CONS"))
    submit_and_check(alpha, care, second)
    again, other_day = lines_of(alpha, second)
    assert summary(again) == ("rejected", 0, 0, ["duplicate"])
    assert summary(other_day) == ("accepted", 2400, 600, [])
    # checking the first invoice again changes nothing: the second's duplicate does not count against it
    invoices.check_invoices(alpha, care.tenant, [first.id])
    [original] = lines_of(alpha, first)
    assert summary(original) == ("accepted", 2400, 600, [])


def test_price_list_change_after_submission_keeps_the_care_dates_price(
    alpha: Session, care: Care, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2027-03-25")
    invoice = new_invoice(alpha, care, D(2027, 3, 1), D(2027, 3, 25))
    add(alpha, care, invoice, D(2027, 3, 5), line(care, "CONS", 1, 4000))
    invoices.submit_invoice(alpha, care.tenant, SYSTEM, invoice)
    # after submission (before the check), a new convention version from 26 March: the consultation at 3500
    second = conventions.new_version(alpha, care.tenant, SYSTEM, care.convention, starts_on=D(2027, 3, 26))
    conventions.set_price(alpha, care.tenant, SYSTEM, second, care.benefits["CONS"], 3500)
    monkeypatch.setitem(app.config, "MBOLO_TODAY", "2027-04-30")
    later = new_invoice(alpha, care, D(2027, 3, 26), D(2027, 3, 31))
    add(alpha, care, later, D(2027, 3, 28), line(care, "CONS", 1, 4000))
    invoices.submit_invoice(alpha, care.tenant, SYSTEM, later)
    invoices.check_invoices(alpha, care.tenant, [invoice.id, later.id])  # both in one batch
    [before] = lines_of(alpha, invoice)
    [after] = lines_of(alpha, later)
    assert (before.agreed_unit_price, before.amount_accepted, before.member_share) == (3000, 2400, 600)
    assert (after.agreed_unit_price, after.amount_accepted, after.member_share) == (3500, 2800, 700)
    assert conventions.agreed_price(alpha, care.provider.id, care.benefits["CONS"].id, D(2027, 3, 5)) == 3000


def test_records_reject_bad_input_with_the_field(alpha: Session, care: Care) -> None:
    invoice = new_invoice(alpha, care)
    cases = [
        (
            RecordInput(member_number="XXX", care_date=D(2027, 3, 5), lines=[line(care, "CONS")]),
            "member_number",
        ),
        (
            RecordInput(
                member_number=care.principal.number, care_date=D(2027, 5, 5), lines=[line(care, "CONS")]
            ),
            "care_date",
        ),
        (
            RecordInput(
                member_number=care.principal.number, care_date=D(2027, 2, 5), lines=[line(care, "CONS")]
            ),
            "care_date",
        ),
        (RecordInput(member_number=care.principal.number, care_date=D(2027, 3, 5), lines=[]), "lines"),
        (
            RecordInput(
                member_number=care.principal.number,
                care_date=D(2027, 3, 5),
                lines=[LineInput("NOPE", 1, 100)],
            ),
            "lines-0-benefit",
        ),
        (
            RecordInput(
                member_number=care.principal.number,
                care_date=D(2027, 3, 5),
                lines=[LineInput(care.benefits["CONS"].code, "0", 100)],
            ),
            "lines-0-quantity",
        ),
    ]
    for data, field_name in cases:
        with pytest.raises(FieldError) as error:
            records.create_record(alpha, care.tenant, SYSTEM, care.provider, data, invoice=invoice)
        assert error.value.field == field_name
    with pytest.raises(FieldError):
        invoices.submit_invoice(alpha, care.tenant, SYSTEM, invoice)  # no record: nothing to submit


def test_submitted_invoice_is_frozen(alpha: Session, care: Care) -> None:
    invoice = new_invoice(alpha, care)
    add(alpha, care, invoice, D(2027, 3, 5), line(care, "CONS"))
    invoices.submit_invoice(alpha, care.tenant, SYSTEM, invoice)
    with pytest.raises(FieldError):
        add(alpha, care, invoice, D(2027, 3, 6), line(care, "CONS"))
    assert invoice.status is InvoiceStatus.submitted and invoice.number.startswith("FAC-2027-")


def test_portal_dossiers_show_the_households_letters_and_lines(alpha: Session, care: Care) -> None:
    from portal.dossiers import member_dossiers

    letter = GuaranteeLetter(
        number=f"LG-2027-{tag()}",
        member_id=care.spouse.id,
        provider_id=care.provider.id,
        issued_on=D(2027, 3, 1),
        valid_until=D(2027, 3, 31),
        estimated_amount=15000,
        status=LetterStatus.issued,
    )
    alpha.add(letter)
    draft = new_invoice(alpha, care)
    add(alpha, care, draft, D(2027, 3, 9), line(care, "CONS"))  # a draft: not shown
    invoice = new_invoice(alpha, care)
    add(alpha, care, invoice, D(2027, 3, 5), line(care, "CONS"), line(care, "OPT"))
    submit_and_check(alpha, care, invoice)
    found = member_dossiers(alpha, care.spouse)  # the whole household, seen from the spouse
    assert [d.kind for d in found] == ["care", "care", "letter"]
    assert found[2].title.startswith(f"Lettre de garantie {letter.number}") and "émise" in found[2].detail
    details = " | ".join(d.detail for d in found)
    assert "Accepté : pris en charge 2" in details and "Rejeté" in details
    assert "Acte ou médicament non couvert par le produit" in details


def test_batch_rights_answer_like_rights_on(alpha: Session, care: Care, world: Any) -> None:
    """The controls' set-based loading and verdict (``controls.coverage_on``) equal ``rights_on``'s."""
    from app.care import controls
    from app.members.models import MemberStatus

    stranger = enrol(alpha, world.alpha, on=D(2027, 1, 1))  # no subscription
    left = enrol(alpha, world.alpha, on=D(2027, 1, 1))
    subscribe(alpha, left, care.product, D(2027, 1, 1))
    services.change_status(
        alpha, world.alpha, SYSTEM, left, MemberStatus.left, reason="départ", effective_on=D(2027, 3, 1)
    )
    people = [care.principal, care.spouse, stranger, left]
    loaded = controls.load_households(alpha, [m.principal_id or m.id for m in people])
    seen = set()
    for member in people:
        for day in (D(2026, 12, 31), D(2027, 1, 15), D(2027, 2, 10), D(2027, 3, 15)):
            expected = rights.rights_on(alpha, care.tenant, member, day)
            found = controls.coverage_on(loaded[member.principal_id or member.id], member, day)
            assert (found.covered, found.reason) == (expected.covered, str(expected.main_reason.code))
            if expected.covered:
                assert [p.product.id for p in found.covering] == [p.product.id for p in expected.covering]
            seen.add(found.reason)
    assert {"covered", "waiting_period", "no_product", "not_enrolled", "member_left"} <= seen
