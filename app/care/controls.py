"""Automatic controls of care lines: each rule has a stable reason code (stored in
``care_lines.reason_codes``, given by the API and the FHIR ClaimResponse) and a French label.

The rules run on plain facts (``LineFacts``) gathered for a whole batch of lines at once by
``app.care.invoices`` (set-based reads), so they are pure and tested with exact amounts. Refusing controls,
in this order (all that apply are reported, not only the first — unlike openIMIS, a provider sees every
reason at once):

1. ``quantity_invalid`` — a quantity of zero or less, or a negative price;
2. ``not_covered`` / ``waiting_period`` — the beneficiary's rights on the care date
   (``app.coverage.rights.rights_on``): not covered, or only the waiting period stands in the way;
3. ``benefit_not_covered`` — no product covering the beneficiary on that date covers the act or medicine
   (or the product excludes it explicitly);
4. ``age_limit`` / ``sex_limit`` — the product's age and sex rules for the act, on the care date;
5. ``no_convention`` — the provider had no convention in force on the care date (the care date is outside
   its dates); ``not_in_convention`` — the convention has no price for the act;
6. ``prior_approval_missing`` — the product requires prior approval and no approved item of a guarantee
   letter of this beneficiary and provider covers the act on the care date;
7. ``duplicate`` — the same beneficiary, act, date and provider already billed (in this invoice, in an
   earlier line, or in another invoice not rejected).

Reducing controls come with the valuation (``app.care.valuation``): ``price_above_agreed``,
``frequency_limit``, ``ceiling_per_act``, ``ceiling_beneficiary_year``, ``ceiling_household_year``; and one
flag that reduces nothing: ``unusual_quantity``. The médecin-conseil's decisions add ``medical_confirmed``
or ``medical_override``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, and_, any_, bindparam, func, or_, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


class Outcome(enum.StrEnum):
    pending = "pending"
    accepted = "accepted"
    reduced = "reduced"
    rejected = "rejected"


class ReviewStatus(enum.StrEnum):
    none = "none"
    pending = "pending"
    confirmed = "confirmed"
    overridden = "overridden"


class Reason(enum.StrEnum):
    """Stable reason codes of a care line's outcome."""

    quantity_invalid = "quantity_invalid"
    not_covered = "not_covered"
    waiting_period = "waiting_period"
    benefit_not_covered = "benefit_not_covered"
    age_limit = "age_limit"
    sex_limit = "sex_limit"
    no_convention = "no_convention"
    not_in_convention = "not_in_convention"
    prior_approval_missing = "prior_approval_missing"
    duplicate = "duplicate"
    price_above_agreed = "price_above_agreed"
    frequency_limit = "frequency_limit"
    ceiling_per_act = "ceiling_per_act"
    ceiling_beneficiary_year = "ceiling_beneficiary_year"
    ceiling_household_year = "ceiling_household_year"
    unusual_quantity = "unusual_quantity"
    medical_confirmed = "medical_confirmed"
    medical_override = "medical_override"


LABELS: dict[str, object] = {
    Reason.quantity_invalid: _l("Quantité ou prix invalide"),
    Reason.not_covered: _l("Bénéficiaire non couvert à la date des soins"),
    Reason.waiting_period: _l("Délai de carence en cours à la date des soins"),
    Reason.benefit_not_covered: _l("Acte ou médicament non couvert par le produit"),
    Reason.age_limit: _l("Âge du bénéficiaire hors des limites prévues pour cet acte"),
    Reason.sex_limit: _l("Acte non prévu pour le sexe du bénéficiaire"),
    Reason.no_convention: _l("Aucune convention en vigueur avec le prestataire à la date des soins"),
    Reason.not_in_convention: _l("Acte absent de la grille tarifaire de la convention"),
    Reason.prior_approval_missing: _l("Accord préalable absent (aucune lettre de garantie approuvée)"),
    Reason.duplicate: _l("Doublon : même bénéficiaire, même acte, même date et même prestataire"),
    Reason.price_above_agreed: _l("Prix demandé supérieur au tarif conventionné : ramené au tarif"),
    Reason.frequency_limit: _l("Limite de fréquence ou de quantité atteinte"),
    Reason.ceiling_per_act: _l("Plafond par acte atteint"),
    Reason.ceiling_beneficiary_year: _l("Plafond annuel du bénéficiaire atteint"),
    Reason.ceiling_household_year: _l("Plafond annuel du foyer atteint"),
    Reason.unusual_quantity: _l("Quantité inhabituelle : à vérifier par le médecin-conseil"),
    Reason.medical_confirmed: _l("Confirmé par le médecin-conseil"),
    Reason.medical_override: _l("Montant modifié par le médecin-conseil"),
}

OUTCOME_LABELS: dict[str, object] = {
    Outcome.pending: _l("En attente de contrôle"),
    Outcome.accepted: _l("Accepté"),
    Outcome.reduced: _l("Réduit"),
    Outcome.rejected: _l("Rejeté"),
}

REVIEW_LABELS: dict[str, object] = {
    ReviewStatus.none: _l("—"),
    ReviewStatus.pending: _l("À revoir par le médecin-conseil"),
    ReviewStatus.confirmed: _l("Confirmé"),
    ReviewStatus.overridden: _l("Modifié"),
}

#: Reasons that send a line to the médecin-conseil's review queue.
REVIEW_REASONS = frozenset(
    {
        Reason.price_above_agreed,
        Reason.ceiling_per_act,
        Reason.ceiling_beneficiary_year,
        Reason.ceiling_household_year,
        Reason.unusual_quantity,
    }
)
#: Refusals that leave nothing to the member either (a billing error, not care at their expense).
BILLING_ERRORS = frozenset({Reason.quantity_invalid, Reason.duplicate})
#: Above these quantities on one line, a line is "unusual" (flagged, not reduced).
UNUSUAL_QUANTITY_ACT = 3
UNUSUAL_QUANTITY_MEDICINE = 60


def label(code: str) -> str:
    """The French (or current language) label of a reason code; the code itself when unknown."""
    found = LABELS.get(code)
    return str(found) if found is not None else code


@dataclass(frozen=True)
class Rule:
    """A product's coverage of one benefit on the care date (a snapshot of ``ProductBenefit``)."""

    id: int
    benefit_id: int
    rate_percent: int
    covered: bool = True
    ceiling_per_act: int | None = None
    ceiling_per_beneficiary_year: int | None = None
    ceiling_per_household_year: int | None = None
    frequency_count: int | None = None
    frequency_months: int | None = None
    min_age: int | None = None
    max_age: int | None = None
    sex: str | None = None
    prior_approval: bool = False


@dataclass(frozen=True)
class LineFacts:
    """What the controls need to know about one line (read from the database for a whole batch).

    ``household_id`` is the adhérent's id; ``rights_reason`` the main reason of the rights' answer on the
    care date (a code of ``app.coverage.rights.ReasonCode``); ``rule`` the best rule of the products that
    cover the beneficiary (None: none covers this benefit); ``agreed_price`` the price of the convention in
    force on the care date (None: no convention, or the act is not in it: see ``convention_in_force``);
    ``approved``: an approved guarantee-letter item covers the line; ``billed_elsewhere``: the same
    beneficiary, act, date and provider is already on a line of another invoice."""

    line_id: int
    record_id: int
    member_id: int
    household_id: int
    provider_id: int
    benefit_id: int
    care_date: dt.date
    quantity: int
    unit_price_asked: int
    rights_covered: bool = True
    rights_reason: str = "covered"
    member_age: int = 30
    member_sex: str = "F"
    rule: Rule | None = None
    convention_in_force: bool = True
    agreed_price: int | None = None
    approved: bool = False
    billed_elsewhere: bool = False
    is_medicine: bool = False
    line_order: int = 0

    @property
    def order(self) -> tuple[dt.date, int, int, int]:
        """Valuation order: care date, then the record, then the line."""
        return (self.care_date, self.record_id, self.line_order, self.line_id)

    @property
    def duplicate_key(self) -> tuple[int, int, dt.date, int]:
        return (self.member_id, self.benefit_id, self.care_date, self.provider_id)

    @property
    def amount_asked(self) -> int:
        return max(0, self.quantity) * max(0, self.unit_price_asked)


@dataclass
class Verdict:
    """The refusing controls' answer for one line."""

    reasons: list[Reason] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.reasons)


def refusals(facts: LineFacts, seen: set[tuple[int, int, dt.date, int]] | None = None) -> list[Reason]:
    """Every refusing control that applies to ``facts``, in the documented order. ``seen``: the duplicate
    keys of lines already accepted earlier in the same batch."""
    found: list[Reason] = []
    if facts.quantity <= 0 or facts.unit_price_asked < 0:
        found.append(Reason.quantity_invalid)
    if not facts.rights_covered:
        found.append(Reason.waiting_period if facts.rights_reason == "waiting_period" else Reason.not_covered)
    rule = facts.rule
    if rule is None or not rule.covered:
        found.append(Reason.benefit_not_covered)
    else:
        if (rule.min_age is not None and facts.member_age < rule.min_age) or (
            rule.max_age is not None and facts.member_age > rule.max_age
        ):
            found.append(Reason.age_limit)
        if rule.sex and rule.sex != facts.member_sex:
            found.append(Reason.sex_limit)
    if not facts.convention_in_force:
        found.append(Reason.no_convention)
    elif facts.agreed_price is None:
        found.append(Reason.not_in_convention)
    if rule is not None and rule.covered and rule.prior_approval and not facts.approved:
        found.append(Reason.prior_approval_missing)
    if facts.billed_elsewhere or (seen is not None and facts.duplicate_key in seen):
        found.append(Reason.duplicate)
    return found


def unusual(facts: LineFacts) -> bool:
    """A quantity far above what one visit gives (flagged for the médecin-conseil, not reduced)."""
    limit = UNUSUAL_QUANTITY_MEDICINE if facts.is_medicine else UNUSUAL_QUANTITY_ACT
    return facts.quantity > limit


# --- reading the facts of a batch (set-based) --------------------------------------------------------------
# What follows reads the database; the rules above do not.

#: Invoice statuses whose accepted lines count as consumed care (ceilings, frequencies, duplicates).
COUNTED_STATUSES = ("submitted", "checked", "in_review", "validated", "paid")
_CHUNK = 20_000


@dataclass
class Batch:
    """The facts of a batch of lines and what was consumed before it (``valuation.Consumption``)."""

    facts: list[LineFacts]
    consumption: object
    rules: dict[int, Rule]
    households: dict[int, int]


def _rule_of(pb: object) -> Rule:
    return Rule(
        id=pb.id,
        benefit_id=pb.benefit_id,
        rate_percent=pb.rate_percent,
        covered=pb.covered,  # type: ignore[attr-defined]
        ceiling_per_act=pb.ceiling_per_act,
        ceiling_per_beneficiary_year=pb.ceiling_per_beneficiary_year,  # type: ignore[attr-defined]
        ceiling_per_household_year=pb.ceiling_per_household_year,
        frequency_count=pb.frequency_count,  # type: ignore[attr-defined]
        frequency_months=pb.frequency_months,
        min_age=pb.min_age,
        max_age=pb.max_age,
        sex=pb.sex,  # type: ignore[attr-defined]
        prior_approval=pb.prior_approval,  # type: ignore[attr-defined]
    )


def best_rule(
    products: Sequence[object], benefit_id: int, memo: dict[Any, Rule | None] | None = None
) -> Rule | None:
    """Among the products covering the beneficiary, the rule for ``benefit_id`` paying the highest rate (an
    explicit exclusion only if no product covers it). ``memo``: answers already found in this batch."""
    if memo is not None:
        key = (tuple(id(p.product) for p in products), benefit_id)  # type: ignore[attr-defined]
        if key not in memo:
            memo[key] = best_rule(products, benefit_id)
        return memo[key]
    found = [pb for p in products for pb in p.product.benefits if pb.benefit_id == benefit_id]  # type: ignore[attr-defined]
    if not found:
        return None
    covering = [pb for pb in found if pb.covered]
    chosen = max(covering, key=lambda pb: (pb.rate_percent, -pb.id)) if covering else found[0]
    return _rule_of(chosen)


class ConventionIndex:
    """The conventions of the batch's providers and their prices, answering like
    ``app.care.conventions.agreed_price`` (the version in force on the care date; reference grids at the
    catalogue's price × rate) without a query per line."""

    def __init__(self, session: Session, provider_ids: Iterable[int], benefit_ids: Iterable[int]) -> None:
        from app.care.models import Convention, ConventionPrice, ConventionStatus
        from app.coverage.models import Benefit

        provider_ids, benefit_ids = sorted(set(provider_ids)), sorted(set(benefit_ids))
        self.by_provider: dict[int, list[Any]] = defaultdict(list)
        for c in session.execute(
            select(
                Convention.id,
                Convention.provider_id,
                Convention.starts_on,
                Convention.ends_on,
                Convention.version,
                Convention.pricing,
                Convention.reference_rate_pct,
            ).where(Convention.provider_id.in_(provider_ids), Convention.status != ConventionStatus.draft)
        ):
            self.by_provider[c.provider_id].append(c)
        for rows in self.by_provider.values():
            rows.sort(key=lambda c: (c.starts_on, c.version), reverse=True)
        ids = [c.id for rows in self.by_provider.values() for c in rows]
        self.prices = {
            (p.convention_id, p.benefit_id): p.price
            for p in session.execute(
                select(
                    ConventionPrice.convention_id, ConventionPrice.benefit_id, ConventionPrice.price
                ).where(ConventionPrice.convention_id.in_(ids), ConventionPrice.benefit_id.in_(benefit_ids))
            )
        }
        self.reference = dict(
            session.execute(
                select(Benefit.id, Benefit.reference_price).where(
                    Benefit.id.in_(benefit_ids), Benefit.active.is_(True)
                )
            ).all()
        )

    def convention(self, provider_id: int, day: dt.date) -> Any:
        for c in self.by_provider.get(provider_id, ()):
            if c.starts_on <= day and (c.ends_on is None or day <= c.ends_on):
                return c
        return None

    def price(self, provider_id: int, benefit_id: int, day: dt.date) -> tuple[bool, int | None]:
        """(a convention is in force, its price for the benefit or None)."""
        c = self.convention(provider_id, day)
        if c is None:
            return False, None
        own = self.prices.get((c.id, benefit_id))
        if own is not None or str(c.pricing) != "reference_grid":
            return True, own
        reference = self.reference.get(benefit_id)
        return True, None if reference is None else (reference * c.reference_rate_pct + 50) // 100


def _approvals(session: Session, rows: Sequence[Any]) -> set[tuple[int, int, int, dt.date]]:
    """(member, provider, benefit, care date) keys an approved guarantee-letter item covers: the item
    approved (or not needing approval), its letter issued for this member and provider and valid on the
    care date — or the very letter the record names, even if already consumed."""
    from app.care.models import GuaranteeLetter, GuaranteeLetterItem

    members = sorted({r.member_id for r in rows})
    found: dict[tuple[int, int, int], list[tuple[dt.date, dt.date, int, str]]] = defaultdict(list)
    for chunk in _chunks(members):
        for item in session.execute(
            select(
                GuaranteeLetter.id,
                GuaranteeLetter.member_id,
                GuaranteeLetter.provider_id,
                GuaranteeLetter.issued_on,
                GuaranteeLetter.valid_until,
                GuaranteeLetter.status,
                GuaranteeLetterItem.benefit_id,
            )
            .join(GuaranteeLetterItem, GuaranteeLetterItem.letter_id == GuaranteeLetter.id)
            .where(
                _any(GuaranteeLetter.member_id, chunk),
                GuaranteeLetter.status.in_(("issued", "consumed")),
                or_(
                    GuaranteeLetterItem.approved.is_(True),
                    and_(
                        GuaranteeLetterItem.needs_approval.is_(False), GuaranteeLetterItem.approved.is_(None)
                    ),
                ),
            )
        ):
            found[(item.member_id, item.provider_id, item.benefit_id)].append(
                (item.issued_on, item.valid_until, item.id, str(item.status))
            )
    keys = set()
    for r in rows:
        for issued, until, letter_id, status in found.get((r.member_id, r.provider_id, r.benefit_id), ()):
            named = r.guarantee_letter_id == letter_id
            if issued <= r.care_date <= until and (status == "issued" or named):
                keys.add((r.member_id, r.provider_id, r.benefit_id, r.care_date))
    return keys


def _any(column: Any, values: Iterable[int]) -> Any:
    """``column = ANY(:array)``: one array parameter, however many values (an IN list of thousands of
    parameters costs more to send and to parse than the query itself)."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(Integer)))


def _chunks(values: Sequence[int], size: int = _CHUNK) -> Iterator[list[int]]:
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


#: Lines of the batch whose beneficiary, act, date and provider are on a line not rejected of another invoice
#: that counts (one query; the records' (member, care date) index finds the candidates).
_ELSEWHERE = text(
    """
    SELECT l.id FROM care_lines l JOIN care_records r ON r.id = l.record_id
    WHERE r.invoice_id = ANY(CAST(:batch AS int[]))
      AND EXISTS (
        SELECT 1 FROM care_records r2
        JOIN care_lines l2 ON l2.record_id = r2.id
        JOIN care_invoices i2 ON i2.id = r2.invoice_id
        WHERE r2.member_id = r.member_id AND r2.care_date = r.care_date AND r2.provider_id = r.provider_id
          AND l2.benefit_id = l.benefit_id AND l2.outcome <> 'rejected'
          AND i2.status = ANY(CAST(:statuses AS varchar[]))
          AND NOT (r2.invoice_id = ANY(CAST(:batch AS int[]))))
    """
)


def _billed_elsewhere(session: Session, rows: Sequence[Any], invoice_ids: Sequence[int]) -> set[int]:
    """Lines of the batch whose beneficiary, act, date and provider are already on a line not rejected of
    another invoice that counts (submitted or later)."""
    if not rows:
        return set()
    found = session.scalars(_ELSEWHERE, {"batch": list(invoice_ids), "statuses": list(COUNTED_STATUSES)})
    return set(found)


def consumed_before(
    session: Session, member_ids: Sequence[int], rule_ids: Sequence[int], exclude_invoices: Sequence[int] = ()
) -> Any:
    """``valuation.Consumption`` of accepted care already counted for these beneficiaries' households and
    rules (other invoices submitted or later), read in a few set-based queries."""
    from app.care.claims_models import CareInvoice, CareLine, CareRecord
    from app.care.valuation import Consumption
    from app.members.models import Member

    consumption = Consumption()
    if not member_ids or not rule_ids:
        return consumption
    household = func.coalesce(Member.principal_id, Member.id)
    principals = sorted(
        {
            p
            for chunk in _chunks(member_ids)
            for p in session.scalars(select(household).where(_any(Member.id, chunk)))
        }
    )
    for chunk in _chunks(principals):
        query = (
            select(
                CareRecord.member_id,
                household.label("household"),
                CareLine.product_benefit_id,
                CareRecord.care_date,
                CareLine.quantity_accepted,
                CareLine.amount_accepted,
            )
            .join(CareLine, CareLine.record_id == CareRecord.id)
            .join(CareInvoice, CareInvoice.id == CareRecord.invoice_id)
            .join(Member, Member.id == CareRecord.member_id)
            .where(
                _any(household, chunk),
                CareLine.product_benefit_id.in_(rule_ids),
                CareLine.outcome.in_(("accepted", "reduced")),
                CareInvoice.status.in_(COUNTED_STATUSES),
                CareInvoice.id.not_in(exclude_invoices or [0]),
            )
        )
        for row in session.execute(query):
            year = row.care_date.year
            consumption.member[(row.member_id, row.product_benefit_id, year)] += row.amount_accepted
            consumption.household[(row.household, row.product_benefit_id, year)] += row.amount_accepted
            consumption.units[(row.member_id, row.product_benefit_id)].append(
                (row.care_date, row.quantity_accepted)
            )
    return consumption


@dataclass(frozen=True)
class Coverage:
    """Covered or not on a day, the main reason's code (``app.coverage.rights.ReasonCode``), the products
    covering the beneficiary and all those listed — what ``rights.evaluate`` answers, without the parts the
    controls do not use (remaining ceilings, dated messages), which cost most of its time."""

    covered: bool
    reason: str
    covering: list[Any]
    products: list[Any]


def coverage_on(data: Any, member: Any, day: dt.date) -> Coverage:
    """The rules of ``app.coverage.rights.evaluate`` (same functions, same order) for the verdict only; a test
    keeps both answers equal."""
    from app.coverage import rights

    listed = [p for h in data.holdings if (p := rights._product_rights(data, member, h, day)) is not None]
    valid = [p for p in listed if p.valid]
    covering = [p for p in valid if p.covered]
    refused = rights._status_reasons(data, member, day)
    if refused:
        return Coverage(False, str(refused[0].code), [], listed)
    if covering:
        return Coverage(True, str(rights.ReasonCode.covered), covering, listed)
    if not valid:
        return Coverage(False, str(rights.ReasonCode.no_product), [], listed)
    blocking = sorted(
        ((rights.RULE_ORDER[r.code], index, r) for index, p in enumerate(valid) for r in p.blocking),
        key=lambda t: (t[0], t[1]),
    )
    return Coverage(
        False, str(blocking[0][2].code) if blocking else str(rights.ReasonCode.no_product), [], listed
    )


def load_households(session: Session, principal_ids: Sequence[int]) -> dict[int, Any]:
    """``app.coverage.rights.HouseholdData`` for many households in a few set-based queries (people, status
    histories, subscriptions, dues, products with versions and rules), grouped with dictionaries — the same
    data as ``rights.load_households``, which scans its whole chunk for each household."""
    from sqlalchemy.orm import selectinload

    from app.contributions.models import Due, Subscription
    from app.coverage import rights
    from app.coverage.models import Product
    from app.members.models import Member, MemberStatusEvent

    session.flush()
    people: dict[int, list[Member]] = defaultdict(list)
    history: dict[int, list[MemberStatusEvent]] = defaultdict(list)
    subscriptions: dict[int, list[Subscription]] = defaultdict(list)
    dues: dict[int, list[Due]] = defaultdict(list)
    products: dict[int, Product] = {}
    for chunk in _chunks(principal_ids):
        found = session.scalars(
            select(Member)
            .where(or_(_any(Member.id, chunk), _any(Member.principal_id, chunk)))
            .order_by(Member.id)
        ).all()
        for person in found:
            people[person.principal_id or person.id].append(person)
        for ids in _chunks([p.id for p in found]):
            for event in session.scalars(
                select(MemberStatusEvent)
                .where(_any(MemberStatusEvent.member_id, ids))
                .order_by(MemberStatusEvent.id)
            ):
                history[event.member_id].append(event)
        subs = session.scalars(
            select(Subscription)
            .where(_any(Subscription.member_id, chunk))
            .order_by(Subscription.start_date, Subscription.id)
        ).all()
        for subscription in subs:
            subscriptions[subscription.member_id].append(subscription)
        for ids in _chunks([s.id for s in subs]):
            for due in session.scalars(
                select(Due).where(_any(Due.subscription_id, ids)).order_by(Due.period_start, Due.id)
            ):
                dues[due.subscription_id].append(due)
        wanted = {s.product_id for s in subs} - set(products)
        if wanted:
            products.update(
                {
                    p.id: p
                    for p in session.scalars(
                        select(Product)
                        .where(Product.id.in_(wanted))
                        .options(selectinload(Product.versions), selectinload(Product.benefits))
                    )
                }
            )
    found_households = {}
    for principal_id in principal_ids:
        members = sorted(people.get(principal_id, []), key=lambda p: (p.id != principal_id, p.id))
        if not members or members[0].id != principal_id:
            continue
        holdings = [
            rights.Holding(s, products[s.product_id], dues.get(s.id, []))
            for s in subscriptions.get(principal_id, [])
        ]
        found_households[principal_id] = rights.HouseholdData(
            people=members, holdings=holdings, history={p.id: history.get(p.id, []) for p in members}
        )
    return found_households


def gather(session: Session, invoice_ids: Sequence[int]) -> Batch:
    """The facts of every line of these invoices, and what their beneficiaries consumed before."""
    from app.care.claims_models import CareLine, CareRecord
    from app.coverage.models import Benefit, BenefitCategory
    from app.members.models import Member

    rows = session.execute(
        select(
            CareLine.id.label("line_id"),
            CareLine.record_id,
            CareLine.benefit_id,
            CareLine.quantity,
            CareLine.unit_price_asked,
            CareRecord.member_id,
            CareRecord.provider_id,
            CareRecord.care_date,
            CareRecord.guarantee_letter_id,
            Benefit.category,
        )
        .join(CareRecord, CareRecord.id == CareLine.record_id)
        .join(Benefit, Benefit.id == CareLine.benefit_id)
        .where(_any(CareRecord.invoice_id, invoice_ids))
        .order_by(CareLine.id)
    ).all()
    members: dict[int, Member] = {}
    for chunk in _chunks(sorted({r.member_id for r in rows})):
        members.update({m.id: m for m in session.scalars(select(Member).where(_any(Member.id, chunk)))})
    households = {m.id: m.principal_id or m.id for m in members.values()}
    # rights on each (beneficiary, care date), households loaded a chunk at a time
    wanted: dict[int, set[dt.date]] = defaultdict(set)
    for r in rows:
        wanted[r.member_id].add(r.care_date)
    by_household: dict[int, list[int]] = defaultdict(list)
    for member_id in wanted:
        by_household[households[member_id]].append(member_id)
    answers: dict[tuple[int, dt.date], Coverage | None] = {}
    loaded = load_households(session, sorted(by_household))
    for principal_id, member_ids in by_household.items():
        data = loaded.get(principal_id)
        for member_id in member_ids:
            person = next((p for p in data.people if p.id == member_id), None) if data else None
            for day in wanted[member_id]:
                answers[(member_id, day)] = coverage_on(data, person, day) if data and person else None
    conventions = ConventionIndex(session, {r.provider_id for r in rows}, {r.benefit_id for r in rows})
    approvals = _approvals(session, rows)
    elsewhere = _billed_elsewhere(session, rows, invoice_ids)
    facts, rules = [], {}
    memo: dict[Any, Rule | None] = {}
    order: dict[int, int] = defaultdict(int)
    for r in rows:
        member = members[r.member_id]
        answer = answers.get((r.member_id, r.care_date))
        rule = (
            best_rule(answer.covering, r.benefit_id, memo) if answer is not None and answer.covered else None
        )
        if rule is None and answer is not None and not answer.covered:
            # not covered: still tell whether the product would cover the act (a clearer list of reasons)
            rule = best_rule([p for p in answer.products if p.valid and p.beneficiary], r.benefit_id, memo)
        if rule is not None:
            rules[rule.id] = rule
        in_force, price = conventions.price(r.provider_id, r.benefit_id, r.care_date)
        order[r.record_id] += 1
        facts.append(
            LineFacts(
                line_id=r.line_id,
                record_id=r.record_id,
                member_id=r.member_id,
                household_id=households[r.member_id],
                provider_id=r.provider_id,
                benefit_id=r.benefit_id,
                care_date=r.care_date,
                quantity=r.quantity,
                unit_price_asked=r.unit_price_asked,
                rights_covered=bool(answer and answer.covered),
                rights_reason=answer.reason if answer else "not_enrolled",
                member_age=member.age_on(r.care_date),
                member_sex=str(member.sex.value),
                rule=rule,
                convention_in_force=in_force,
                agreed_price=price,
                approved=(r.member_id, r.provider_id, r.benefit_id, r.care_date) in approvals,
                billed_elsewhere=r.line_id in elsewhere,
                is_medicine=str(r.category) == BenefitCategory.medicine.value,
                line_order=order[r.record_id],
            )
        )
    consumption = consumed_before(session, sorted(wanted), sorted(rules), invoice_ids)
    return Batch(facts=facts, consumption=consumption, rules=rules, households=households)
