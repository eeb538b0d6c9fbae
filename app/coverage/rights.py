"""Rights: is a beneficiary covered on a date, and why — the one answer the member page, the API, and later
care and invoices all read.

``rights_on`` applies the rules in this order, each with a ``ReasonCode``:

1. the beneficiary's status on the day (from their status history): pending, suspended, left or deceased
   → not covered; an adhérent who is pending, suspended or gone takes the household's rights with them
   (the subscriptions are theirs). A deceased adhérent does not: survivors keep the running subscription;
2. a subscription of the household valid on the day (subscription start/end, product valid_from/valid_to,
   a tariff version in force) → otherwise "aucun produit valide";
3. per product, with the version in force on the day (``Product.version_on``): the waiting period
   (subscription start + ``waiting_days``), the version's child age limit and maximum number of
   beneficiaries (counted by rank in the household, the adhérent first), and arrears: the oldest due still
   owed whose ``due_date + grace_days`` is before the day. A due owed but still within grace leaves the
   household covered, with a warning.

Covered = the status allows it and at least one product covers the beneficiary. Messages are plain French
(or the request's language), dates written out ("12 février 2027").

Payments are counted as they stand now (``Due.paid_amount``), also when asking about a past day. Consumption
of ceilings comes from care: ``consumed`` and ``consumed_times`` sum the accepted lines of provider invoices
submitted or later (``app/care``).

``refresh_rights`` / ``refresh_household`` / ``refresh_tenant`` keep the history (``RightsEvent``): a row,
and an audit event, only when covered/not covered or the main reason changes. Everything here flushes and
never commits (the task commits batch by batch).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session, selectinload

from app import clock
from app.audit.services import record_event
from app.contributions.models import Due, DueKind, DueStatus, Subscription, SubscriptionStatus
from app.coverage.models import Product, ProductBenefit, ProductVersion, RightsEvent
from app.errors import FieldError
from app.members import numbers
from app.members.models import Member, MemberStatus, MemberStatusEvent, Relationship
from app.security.actor import Actor
from tenants.context import NoTenantContext, TenantRef, current_tenant_of

#: The actor of rights changes: they follow from payments, dues and dates, not from anyone's hand (the
#: request that triggered them, if any, is in the same audit chain with its own actor).
SYSTEM = Actor.system("droits")
#: Stored history (RightsEvent.details) is written in the platform's language, whoever triggered it.
HISTORY_LOCALE = "fr"
#: Statuses that keep a place in the household (they count towards a product's maximum of beneficiaries).
_IN_HOUSEHOLD = (MemberStatus.pending, MemberStatus.active, MemberStatus.suspended)
_DAY_FIRST_SEPARATORS = ("/", ".", "-")


class ReasonCode(enum.StrEnum):
    """Why a beneficiary is (not) covered. Stable: stored in ``RightsEvent.reason`` and given by the API."""

    covered = "covered"
    member_pending = "member_pending"
    member_suspended = "member_suspended"
    member_left = "member_left"
    member_deceased = "member_deceased"
    not_enrolled = "not_enrolled"  # asking about a day before enrolment
    principal_pending = "principal_pending"
    principal_suspended = "principal_suspended"
    principal_left = "principal_left"
    no_product = "no_product"
    not_started = "not_started"  # product level: the subscription (or the product) starts later
    no_version = "no_version"  # product level: no tariff in force on the day
    waiting_period = "waiting_period"
    child_age_limit = "child_age_limit"
    beneficiary_limit = "beneficiary_limit"
    arrears = "arrears"
    payment_due = "payment_due"  # a warning: covered, but a due is to be paid within grace


#: Reasons that do not take rights away.
WARNINGS = frozenset({ReasonCode.payment_due})
#: The order of the rules: the main reason of a refusal is the earliest rule that fails.
RULE_ORDER = {code: index for index, code in enumerate(ReasonCode)}

STATUS_CODES = {
    MemberStatus.pending: ReasonCode.member_pending,
    MemberStatus.suspended: ReasonCode.member_suspended,
    MemberStatus.left: ReasonCode.member_left,
    MemberStatus.deceased: ReasonCode.member_deceased,
}
PRINCIPAL_CODES = {
    MemberStatus.pending: ReasonCode.principal_pending,
    MemberStatus.suspended: ReasonCode.principal_suspended,
    MemberStatus.left: ReasonCode.principal_left,
}
#: Short labels of the codes (history screens, filters); the full message of a reason carries its dates.
CODE_LABELS = {
    ReasonCode.covered: _l("couvert"),
    ReasonCode.member_pending: _l("adhésion en attente"),
    ReasonCode.member_suspended: _l("adhésion suspendue"),
    ReasonCode.member_left: _l("a quitté la mutuelle"),
    ReasonCode.member_deceased: _l("décès"),
    ReasonCode.not_enrolled: _l("pas encore inscrit"),
    ReasonCode.principal_pending: _l("adhésion de l'adhérent en attente"),
    ReasonCode.principal_suspended: _l("adhésion de l'adhérent suspendue"),
    ReasonCode.principal_left: _l("l'adhérent a quitté la mutuelle"),
    ReasonCode.no_product: _l("aucun produit valide"),
    ReasonCode.not_started: _l("souscription à venir"),
    ReasonCode.no_version: _l("aucun tarif en vigueur"),
    ReasonCode.waiting_period: _l("délai de carence"),
    ReasonCode.child_age_limit: _l("âge limite des enfants dépassé"),
    ReasonCode.beneficiary_limit: _l("nombre maximal de bénéficiaires dépassé"),
    ReasonCode.arrears: _l("cotisation impayée"),
    ReasonCode.payment_due: _l("cotisation à payer"),
}


def long_date(day: dt.date) -> str:
    """12 février 2027 (in the current language)."""
    return format_date(day, "d MMMM y")


# --- the answer --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    """One reason, in plain words. ``date`` is the day the message is about: the last day of the waiting
    period, the due date of an unpaid contribution, the day a due must be paid before, the day a status or a
    limit took effect; ``product`` the code of the product it concerns, if any."""

    code: ReasonCode
    message: str
    date: dt.date | None = None
    product: str | None = None

    @property
    def warning(self) -> bool:
        return self.code in WARNINGS

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": str(self.code),
            "message": self.message,
            "date": self.date.isoformat() if self.date else None,
            "product": self.product,
            "warning": self.warning,
        }


@dataclass(frozen=True)
class ProductRights:
    """What one subscription of the household does for this beneficiary on the day.

    ``valid``: the subscription, the product and a tariff are in force on the day (the others listed start
    later). ``beneficiary``: this person is one of the product's beneficiaries (not excluded by the child age
    limit or the maximum of beneficiaries) — waiting and arrears are temporary, these are not.
    ``opens_on``: the first covered day (end of the waiting period); ``paid_through``: the end of the last
    period paid in full, without gap; ``grace_until``: the last day of grace of the oldest due still owed."""

    subscription: Subscription
    product: Product
    version: ProductVersion | None
    valid: bool
    beneficiary: bool
    covered: bool
    reasons: list[Reason]
    opens_on: dt.date | None = None
    paid_through: dt.date | None = None
    grace_until: dt.date | None = None

    @property
    def blocking(self) -> list[Reason]:
        return [r for r in self.reasons if not r.warning]

    @property
    def warnings(self) -> list[Reason]:
        return [r for r in self.reasons if r.warning]

    def as_dict(self) -> dict[str, Any]:
        version = self.version
        return {
            "code": self.product.code,
            "name": self.product.name,
            "subscription": self.subscription.public_id,
            "subscribed_on": self.subscription.start_date.isoformat(),
            "version": {"number": version.number, "effective_from": version.effective_from.isoformat()}
            if version
            else None,
            "valid": self.valid,
            "covered": self.covered,
            "reasons": [r.as_dict() for r in self.reasons],
            "opens_on": _iso(self.opens_on),
            "paid_through": _iso(self.paid_through),
            "grace_until": _iso(self.grace_until),
        }


@dataclass(frozen=True)
class Limit:
    """An amount ceiling over a calendar year (XOF)."""

    ceiling: int
    consumed: int

    @property
    def remaining(self) -> int:
        return max(0, self.ceiling - self.consumed)

    def as_dict(self) -> dict[str, int]:
        return {"ceiling": self.ceiling, "consumed": self.consumed, "remaining": self.remaining}


@dataclass(frozen=True)
class Frequency:
    """At most ``count`` times every ``months`` months (e.g. one pair of glasses every 24 months)."""

    count: int
    months: int | None
    used: int
    since: dt.date

    @property
    def remaining(self) -> int:
        return max(0, self.count - self.used)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "months": self.months,
            "used": self.used,
            "remaining": self.remaining,
            "since": self.since.isoformat(),
        }


@dataclass(frozen=True)
class Ceiling:
    """What is left of one benefit's limits for this beneficiary and their household."""

    product: Product
    product_benefit: ProductBenefit
    year: int
    beneficiary: Limit | None
    household: Limit | None
    frequency: Frequency | None

    def as_dict(self) -> dict[str, Any]:
        pb = self.product_benefit
        return {
            "product": self.product.code,
            "benefit": {
                "code": pb.benefit.code,
                "name": pb.benefit.name,
                "category": str(pb.benefit.category),
            },
            "year": self.year,
            "rate_percent": pb.rate_percent,
            "per_act": pb.ceiling_per_act,
            "prior_approval": pb.prior_approval,
            "beneficiary": self.beneficiary.as_dict() if self.beneficiary else None,
            "household": self.household.as_dict() if self.household else None,
            "frequency": self.frequency.as_dict() if self.frequency else None,
        }


@dataclass(frozen=True)
class Rights:
    """The answer for one beneficiary on one day. ``reasons`` starts with the main one: ``covered`` (then
    any warnings) or the first rule that refuses; ``headline`` says it in one sentence. ``opens_on``,
    ``paid_through`` and ``grace_until`` are those of the first covering product (else the first valid
    one)."""

    member: Member
    day: dt.date
    covered: bool
    reasons: list[Reason]
    products: list[ProductRights]
    ceilings: list[Ceiling]
    headline: str
    opens_on: dt.date | None = None
    paid_through: dt.date | None = None
    grace_until: dt.date | None = None

    @property
    def main_reason(self) -> Reason:
        return self.reasons[0]

    @property
    def warnings(self) -> list[Reason]:
        return [r for r in self.reasons if r.warning]

    @property
    def covering(self) -> list[ProductRights]:
        return [p for p in self.products if p.covered]

    def as_dict(self) -> dict[str, Any]:
        """The API's shape (``Eligibility`` in the OpenAPI document)."""
        return {
            "number": self.member.number,
            "date": self.day.isoformat(),
            "covered": self.covered,
            "summary": self.headline,
            "reasons": [r.as_dict() for r in self.reasons],
            "opens_on": _iso(self.opens_on),
            "paid_through": _iso(self.paid_through),
            "grace_until": _iso(self.grace_until),
            "products": [p.as_dict() for p in self.products],
            "ceilings": [c.as_dict() for c in self.ceilings],
        }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass(frozen=True)
class Holding:
    """One subscription of the household with its product (versions, benefits) and its dues."""

    subscription: Subscription
    product: Product
    dues: list[Due]


@dataclass(frozen=True)
class HouseholdData:
    """What the rules read about one household: its people (the adhérent first, then by id), their status
    histories, and the adhérent's subscriptions."""

    people: list[Member]
    holdings: list[Holding]
    history: dict[int, list[MemberStatusEvent]]

    def history_of(self, member: Member) -> list[MemberStatusEvent]:
        return self.history.get(member.id, [])

    def status_on(self, member: Member, day: dt.date) -> MemberStatus | None:
        return status_on(member, day, self.history_of(member))


# --- hooks for care ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CareUse:
    """A household's accepted care over a window, as rows (product benefit id, care date, member id, the
    mutual's share, accepted quantity): what ceilings and frequency limits count. Accepted care = accepted
    or reduced lines of invoices submitted or later (``app.care.controls.COUNTED_STATUSES``), by care date."""

    rows: tuple[tuple[int, dt.date, int, int, int], ...]

    def consumed(self, member: Member, product_benefit_id: int, year: int) -> tuple[int, int]:
        """Paid out under this rule in calendar ``year``: (for ``member``, for the whole household), XOF."""
        mine = household = 0
        for rule, day, person, amount, _quantity in self.rows:
            if rule == product_benefit_id and day.year == year:
                household += amount
                mine += amount if person == member.id else 0
        return mine, household

    def times(self, member: Member, product_benefit_id: int, since: dt.date, until: dt.date) -> int:
        """How many times ``member`` received care under this rule from ``since`` to ``until`` included."""
        return sum(
            quantity
            for rule, day, person, _amount, quantity in self.rows
            if rule == product_benefit_id and person == member.id and since <= day <= until
        )


def care_use(session: Session, member: Member, since: dt.date, until: dt.date) -> CareUse:
    """The accepted care of ``member``'s household from ``since`` to ``until``, in one query for every rule.

    No filter on the rule: the query is driven by the household's care records (an index on member and
    date), whatever the statistics say about the lines — a batch of checks sets their rule, and until the
    next ANALYZE a filter on it looked empty and turned a counter check into scans of every line."""
    from app.care import controls
    from app.care.claims_models import CareInvoice, CareLine, CareRecord

    household = member.principal_id or member.id
    in_household = select(Member.id).where(or_(Member.id == household, Member.principal_id == household))
    found = session.execute(
        select(
            CareLine.product_benefit_id,
            CareRecord.care_date,
            CareRecord.member_id,
            func.coalesce(func.sum(CareLine.amount_accepted), 0),
            func.coalesce(func.sum(CareLine.quantity_accepted), 0),
        )
        .join(CareRecord, CareRecord.id == CareLine.record_id)
        .join(CareInvoice, CareInvoice.id == CareRecord.invoice_id)
        .where(
            CareRecord.member_id.in_(in_household.scalar_subquery()),
            CareRecord.care_date >= since,
            CareRecord.care_date <= until,
            CareLine.outcome.in_(("accepted", "reduced")),
            CareInvoice.status.in_(controls.COUNTED_STATUSES),
        )
        .group_by(CareLine.product_benefit_id, CareRecord.care_date, CareRecord.member_id)
    ).all()
    rows = tuple(
        (rule, day, person, int(amount), int(quantity))
        for rule, day, person, amount, quantity in found
        if rule is not None
    )
    return CareUse(rows)


def consumed(session: Session, member: Member, product_benefit: ProductBenefit, year: int) -> tuple[int, int]:
    """What was already paid out for ``product_benefit`` in calendar ``year``: (for this beneficiary, for
    their whole household), in XOF."""
    use = care_use(session, member, dt.date(year, 1, 1), dt.date(year, 12, 31))
    return use.consumed(member, product_benefit.id, year)


def consumed_times(
    session: Session, member: Member, product_benefit: ProductBenefit, since: dt.date, until: dt.date
) -> int:
    """How many times this beneficiary received ``product_benefit`` from ``since`` to ``until`` included —
    for frequency limits."""
    return care_use(session, member, since, until).times(member, product_benefit.id, since, until)


# --- parsing -----------------------------------------------------------------------------------------------


def parse_day(raw: str, field_name: str = "date") -> dt.date:
    """A day typed as 2027-02-12 (date inputs, the API) or 12/02/2027 (people); ``FieldError`` otherwise."""
    text = (raw or "").strip()
    try:
        if len(text) == 10 and text[4] == "-":
            return dt.date.fromisoformat(text)
        for separator in _DAY_FIRST_SEPARATORS:
            parts = text.split(separator)
            if len(parts) == 3 and all(p.isdigit() for p in parts) and len(parts[2]) == 4:
                return dt.date(int(parts[2]), int(parts[1]), int(parts[0]))
    except ValueError as bad:
        raise FieldError(field_name, _l("Cette date n'existe pas.")) from bad
    raise FieldError(field_name, _l("Date attendue au format AAAA-MM-JJ (ou JJ/MM/AAAA)."))


# --- the rules ---------------------------------------------------------------------------------------------


def _months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` months earlier (the month's last day when it has fewer days)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _anniversary(born: dt.date, years: int) -> dt.date:
    try:
        return born.replace(year=born.year + years)
    except ValueError:  # born on 29 February
        return dt.date(born.year + years, 3, 1)


def status_on(
    member: Member, day: dt.date, history: Sequence[MemberStatusEvent] | None = None
) -> MemberStatus | None:
    """The status in force on ``day`` from the status history (effective dates; ``member.history`` unless
    given), or None before enrolment; the current status when there is no history to read."""
    history = sorted(
        member.history if history is None else history, key=lambda e: (e.effective_on, e.id or 0)
    )
    passed = [e for e in history if e.effective_on <= day]
    if passed:
        return MemberStatus(passed[-1].to_status)
    if day < member.enrolled_on:
        return None
    # Enrolled, but the first recorded step is dated later (an enrolment typed after the fact).
    return MemberStatus(history[0].to_status) if history else member.status


def _status_since(history: Sequence[MemberStatusEvent], status: MemberStatus, day: dt.date) -> dt.date | None:
    dates = [e.effective_on for e in history if e.to_status == status.value and e.effective_on <= day]
    return max(dates) if dates else None


def _status_reasons(data: HouseholdData, member: Member, day: dt.date) -> list[Reason]:
    """The status rules: the beneficiary's own, then the adhérent's (whose subscriptions carry the
    household)."""
    principal = data.people[0]
    status = data.status_on(member, day)
    if status is None:
        return [Reason(ReasonCode.not_enrolled, _("pas encore inscrit à cette date"), member.enrolled_on)]
    if status in STATUS_CODES:
        since = _status_since(data.history_of(member), status, day)
        messages = {
            MemberStatus.pending: _("adhésion en attente (consentement à recueillir)"),
            MemberStatus.suspended: _("adhésion suspendue depuis le %(day)s", day=long_date(since))
            if since
            else _("adhésion suspendue"),
            MemberStatus.left: _("a quitté la mutuelle le %(day)s", day=long_date(since))
            if since
            else _("a quitté la mutuelle"),
            MemberStatus.deceased: _("décès enregistré le %(day)s", day=long_date(since))
            if since
            else _("décès enregistré"),
        }
        return [Reason(STATUS_CODES[status], messages[status], since)]
    if principal.id != member.id:
        head = data.status_on(principal, day)
        if head in PRINCIPAL_CODES:
            messages = {
                MemberStatus.pending: _("adhésion de l'adhérent en attente (consentement à recueillir)"),
                MemberStatus.suspended: _("adhésion de l'adhérent suspendue"),
                MemberStatus.left: _("l'adhérent a quitté la mutuelle"),
            }
            since = _status_since(data.history_of(principal), head, day)
            return [Reason(PRINCIPAL_CODES[head], messages[head], since)]
    return []


def _rank(member: Member) -> tuple[int, int]:
    parsed = numbers.parse(member.number)
    return (parsed.rank if parsed else 99, member.id or 0)


def _beyond_age(person: Member, version: ProductVersion, day: dt.date) -> bool:
    limit = version.child_age_limit
    return limit is not None and person.relation is Relationship.child and person.age_on(day) >= limit


def _beneficiary_reasons(
    data: HouseholdData, member: Member, version: ProductVersion, product: Product, day: dt.date
) -> list[Reason]:
    """The version's child age limit, then its maximum of beneficiaries: the household's people still in it,
    not beyond the age limit, by rank (the number ends with it; the adhérent is 00) — those past the maximum
    are not beneficiaries of this product."""
    if _beyond_age(member, version, day):
        limit = version.child_age_limit or 0
        reached = _anniversary(member.birth_date or dt.date(member.birth_year, 7, 1), limit)
        message = _(
            "enfant de %(limit)s ans ou plus : au-delà de l'âge limite de %(product)s (depuis le %(day)s)",
            limit=limit, product=product.name, day=long_date(reached),
        )  # fmt: skip
        return [Reason(ReasonCode.child_age_limit, message, reached, product.code)]
    if version.max_beneficiaries is None:
        return []
    counted = sorted(
        (
            p
            for p in data.people
            if data.status_on(p, day) in _IN_HOUSEHOLD and not _beyond_age(p, version, day)
        ),
        key=_rank,
    )
    ids = [p.id for p in counted]
    if member.id in ids and ids.index(member.id) >= version.max_beneficiaries:
        message = _(
            "au-delà du nombre maximal de bénéficiaires de %(product)s (%(max)s par foyer)",
            product=product.name, max=version.max_beneficiaries,
        )  # fmt: skip
        return [Reason(ReasonCode.beneficiary_limit, message, None, product.code)]
    return []


def _paid_through(dues: Iterable[Due]) -> dt.date | None:
    """End of the last contribution period paid in full, counting from the first without a gap."""
    through = None
    for due in sorted(dues, key=lambda d: (d.period_start, d.id or 0)):
        if due.kind is not DueKind.contribution or due.status is DueStatus.cancelled:
            continue
        if due.outstanding > 0:
            break
        through = due.period_end
    return through


def _due_label(due: Due) -> str:
    return _("droit d'adhésion") if due.kind is DueKind.joining_fee else _("cotisation")


def _payment_reasons(
    dues: Iterable[Due], version: ProductVersion, product: Product, day: dt.date
) -> tuple[list[Reason], dt.date | None]:
    """Arrears beyond grace (refuses), or a due owed within grace (warns); and that due's last day of grace.
    The grace is the version in force's: a new tariff's grace applies from its first day."""
    owed = sorted((d for d in dues if d.outstanding > 0), key=lambda d: (d.due_date, d.id or 0))
    if not owed:
        return [], None
    oldest = owed[0]
    grace_until = oldest.due_date + dt.timedelta(days=version.grace_days)
    stop = grace_until + dt.timedelta(days=1)  # the first day without rights if still unpaid
    if grace_until < day:
        message = _(
            "%(what)s du %(due)s impayée (délai de grâce dépassé le %(stop)s)",
            what=_due_label(oldest), due=long_date(oldest.due_date), stop=long_date(stop),
        )  # fmt: skip
        return [Reason(ReasonCode.arrears, message, oldest.due_date, product.code)], grace_until
    if oldest.due_date <= day:
        message = _(
            "%(what)s du %(due)s à payer avant le %(stop)s",
            what=_due_label(oldest), due=long_date(oldest.due_date), stop=long_date(stop),
        )  # fmt: skip
        return [Reason(ReasonCode.payment_due, message, stop, product.code)], grace_until
    return [], grace_until


def _subscription_window(subscription: Subscription, product: Product) -> tuple[dt.date, dt.date | None]:
    """First and last day (included) of a subscription to a product, within the product's validity."""
    start = max(subscription.start_date, product.valid_from)
    ends = [d for d in (subscription.end_date, product.valid_to) if d is not None]
    if subscription.status is SubscriptionStatus.ended and subscription.end_date is None:
        ends.append(subscription.start_date - dt.timedelta(days=1))  # ended without a date: never valid
    return start, min(ends) if ends else None


def _product_rights(
    data: HouseholdData, member: Member, holding: Holding, day: dt.date
) -> ProductRights | None:
    """One subscription for one beneficiary; None when it ended before the day (not worth listing)."""
    subscription, product = holding.subscription, holding.product
    start, end = _subscription_window(subscription, product)
    if end is not None and end < day:
        return None
    version = product.version_on(day)
    if start > day:
        message = _("%(product)s à partir du %(day)s", product=product.name, day=long_date(start))
        reason = Reason(ReasonCode.not_started, message, start, product.code)
        return ProductRights(subscription, product, version, False, True, False, [reason], opens_on=start)
    if version is None:
        message = _("%(product)s : aucun tarif en vigueur à cette date", product=product.name)
        reason = Reason(ReasonCode.no_version, message, None, product.code)
        return ProductRights(subscription, product, None, False, True, False, [reason])
    reasons: list[Reason] = []
    opens_on = subscription.start_date + dt.timedelta(days=version.waiting_days)
    if day < opens_on:
        last = opens_on - dt.timedelta(days=1)
        message = _("délai de carence jusqu'au %(day)s", day=long_date(last))
        reasons.append(Reason(ReasonCode.waiting_period, message, last, product.code))
    excluded = _beneficiary_reasons(data, member, version, product, day)
    reasons.extend(excluded)
    payment, grace_until = _payment_reasons(holding.dues, version, product, day)
    reasons.extend(payment)
    covered = not [r for r in reasons if not r.warning]
    return ProductRights(
        subscription, product, version, True, not excluded, covered, reasons,
        opens_on=opens_on, paid_through=_paid_through(holding.dues), grace_until=grace_until,
    )  # fmt: skip


def _applies(pb: ProductBenefit, member: Member, day: dt.date) -> bool:
    if not pb.covered:
        return False
    if pb.sex and pb.sex != member.sex.value:
        return False
    age = member.age_on(day)
    return not (
        (pb.min_age is not None and age < pb.min_age) or (pb.max_age is not None and age > pb.max_age)
    )


def _ceilings(
    session: Session, member: Member, products: Sequence[ProductRights], day: dt.date
) -> list[Ceiling]:
    """Remaining ceilings and frequency limits of the products this person is a beneficiary of (the
    household's care read once for all of them)."""
    limited_rules = []
    for rights in products:
        if not (rights.valid and rights.beneficiary):
            continue
        for pb in sorted(rights.product.benefits, key=lambda b: (b.benefit.name, b.id)):
            limits = (pb.ceiling_per_beneficiary_year, pb.ceiling_per_household_year, pb.frequency_count)
            if any(v is not None for v in limits) and _applies(pb, member, day):
                # "every N months": the N months up to the day; without a period, the calendar year.
                since = (
                    _months_before(day, pb.frequency_months) + dt.timedelta(days=1)
                    if pb.frequency_count is not None and pb.frequency_months
                    else dt.date(day.year, 1, 1)
                )
                limited_rules.append((rights, pb, since))
    if not limited_rules:
        return []
    first = min(since for _rights, _pb, since in limited_rules)
    use = care_use(session, member, first, dt.date(day.year, 12, 31))
    found = []
    for rights, pb, since in limited_rules:
        mine, household = use.consumed(member, pb.id, day.year)
        frequency = None
        if pb.frequency_count is not None:
            used = use.times(member, pb.id, since, day)
            frequency = Frequency(pb.frequency_count, pb.frequency_months, used, since)
        found.append(
            Ceiling(
                product=rights.product, product_benefit=pb, year=day.year,
                beneficiary=Limit(pb.ceiling_per_beneficiary_year, mine)
                if pb.ceiling_per_beneficiary_year is not None else None,
                household=Limit(pb.ceiling_per_household_year, household)
                if pb.ceiling_per_household_year is not None else None,
                frequency=frequency,
            )
        )  # fmt: skip
    return found


def _dedupe(reasons: Iterable[Reason]) -> list[Reason]:
    seen, kept = set(), []
    for reason in reasons:
        if (reason.code, reason.message) not in seen:
            seen.add((reason.code, reason.message))
            kept.append(reason)
    return kept


def _names(products: Sequence[ProductRights]) -> str:
    names = [p.product.name for p in products]
    return (
        names[0]
        if len(names) == 1
        else _("%(first)s et %(last)s", first=", ".join(names[:-1]), last=names[-1])
    )


def _headline(
    covered: bool, reasons: Sequence[Reason], covering: Sequence[ProductRights], day: dt.date
) -> str:
    today = day == clock.today()
    if covered:
        if today:
            return _("Couvert aujourd'hui par %(products)s", products=_names(covering))
        return _("Couvert le %(day)s par %(products)s", day=long_date(day), products=_names(covering))
    why = " ; ".join(r.message for r in reasons if not r.warning)
    if today:
        return _("Non couvert : %(why)s", why=why)
    return _("Non couvert le %(day)s : %(why)s", day=long_date(day), why=why)


def evaluate(session: Session, data: HouseholdData, member: Member, day: dt.date) -> Rights:
    """The rules on a household already loaded (``rights_on`` loads one; ``refresh_tenant`` a batch)."""
    listed = [
        found
        for holding in data.holdings
        if (found := _product_rights(data, member, holding, day)) is not None
    ]
    valid = [p for p in listed if p.valid]
    covering = [p for p in valid if p.covered]
    refused = _status_reasons(data, member, day)
    covered = not refused and bool(covering)
    if covered:
        covered_reason = Reason(
            ReasonCode.covered, _("couvert par %(products)s", products=_names(covering)), None,
            covering[0].product.code if len(covering) == 1 else None,
        )  # fmt: skip
        reasons = [covered_reason, *_dedupe(r for p in covering for r in p.warnings)]
    elif refused:
        reasons = refused
    elif not valid:
        reasons = [Reason(ReasonCode.no_product, _("aucun produit valide"))]
        reasons += [r for p in listed for r in p.reasons]  # e.g. "Produit de base à partir du …"
    else:
        blocking = [(RULE_ORDER[r.code], index, r) for index, p in enumerate(valid) for r in p.blocking]
        reasons = _dedupe(r for _order, _index, r in sorted(blocking, key=lambda t: (t[0], t[1])))
    primary = covering[0] if covering else (valid[0] if valid else None)
    return Rights(
        member=member, day=day, covered=covered, reasons=reasons, products=listed,
        ceilings=_ceilings(session, member, listed, day),
        headline=_headline(covered, reasons, covering, day),
        opens_on=primary.opens_on if primary else None,
        paid_through=primary.paid_through if primary else None,
        grace_until=primary.grace_until if primary else None,
    )  # fmt: skip


# --- loading -----------------------------------------------------------------------------------------------


def _require_context(session: Session, tenant: TenantRef) -> None:
    """Rights read the tenant's tables: the session must be in this tenant's scope (never another's)."""
    current = current_tenant_of(session)
    if current is None or current.schema != tenant.schema:
        raise NoTenantContext(f"rights of {tenant.slug}")


def load_households(session: Session, principal_ids: Sequence[int]) -> dict[int, HouseholdData]:
    """These adhérents' households read fresh from the database — people, status histories, subscriptions,
    their dues and products (versions, benefits) — in a few queries for a whole batch. Fresh, because a
    caller (a payment, a status change) may have just added rows the session's loaded collections miss."""
    if not principal_ids:
        return {}
    session.flush()  # what the caller changed is in the database before it is read back over the session
    fresh = {"populate_existing": True}
    people = session.scalars(
        select(Member)
        .where(or_(Member.id.in_(principal_ids), Member.principal_id.in_(principal_ids)))
        .order_by(Member.id)
        .execution_options(**fresh)
    ).all()
    history: dict[int, list[MemberStatusEvent]] = defaultdict(list)
    for event in session.scalars(
        select(MemberStatusEvent)
        .where(MemberStatusEvent.member_id.in_([p.id for p in people]))
        .order_by(MemberStatusEvent.id)
    ):
        history[event.member_id].append(event)
    subscriptions = session.scalars(
        select(Subscription)
        .where(Subscription.member_id.in_(principal_ids))
        .order_by(Subscription.start_date, Subscription.id)
        .execution_options(**fresh)
    ).all()
    dues: dict[int, list[Due]] = defaultdict(list)
    products: dict[int, Product] = {}
    if subscriptions:
        for due in session.scalars(
            select(Due)
            .where(Due.subscription_id.in_([s.id for s in subscriptions]))
            .order_by(Due.period_start, Due.id)
            .execution_options(**fresh)
        ):
            dues[due.subscription_id].append(due)
        products = {
            p.id: p
            for p in session.scalars(
                select(Product)
                .where(Product.id.in_({s.product_id for s in subscriptions}))
                .options(selectinload(Product.versions), selectinload(Product.benefits))
                .execution_options(**fresh)
            )
        }
    found: dict[int, HouseholdData] = {}
    for principal_id in principal_ids:
        members = [p for p in people if p.id == principal_id] + [
            p for p in people if p.principal_id == principal_id
        ]
        if not members:
            continue
        holdings = [
            Holding(s, products[s.product_id], dues.get(s.id, []))
            for s in subscriptions
            if s.member_id == principal_id
        ]
        found[principal_id] = HouseholdData(
            people=members, holdings=holdings, history={p.id: history.get(p.id, []) for p in members}
        )
    return found


def rights_on(session: Session, tenant: TenantRef, member: Member, day: dt.date | None = None) -> Rights:
    """Is ``member`` covered on ``day`` (the business date by default), by which products, why not, and
    what is left of the ceilings. Reads only."""
    _require_context(session, tenant)
    day = day or clock.today()
    principal_id = member.principal_id or member.id
    return evaluate(session, load_households(session, [principal_id])[principal_id], member, day)


# --- history -----------------------------------------------------------------------------------------------


def _last_events(session: Session, member_ids: Sequence[int], day: dt.date) -> dict[int, RightsEvent]:
    """Each member's latest event in force on ``day`` (one query for a whole batch)."""
    if not member_ids:
        return {}
    query = (
        select(RightsEvent)
        .where(RightsEvent.member_id.in_(member_ids), RightsEvent.effective_on <= day)
        .order_by(RightsEvent.member_id, RightsEvent.effective_on.desc(), RightsEvent.id.desc())
        .ext(distinct_on(RightsEvent.member_id))
    )
    return {e.member_id: e for e in session.scalars(query)}


def _record(session: Session, rights: Rights, last: RightsEvent | None) -> RightsEvent | None:
    """A new event when covered/not covered or the main reason changed since ``last`` (or there is none)."""
    main = rights.main_reason
    if last is not None and last.covered == rights.covered and last.reason == main.code.value:
        return None
    details = " ; ".join(r.message for r in rights.reasons if not r.warning)
    event = RightsEvent(
        member_id=rights.member.id, effective_on=rights.day, covered=rights.covered, reason=main.code.value,
        details=details[:300],
    )  # fmt: skip
    session.add(event)
    before = {"covered": last.covered, "reason": last.reason} if last is not None else None
    record_event(
        session, SYSTEM, "coverage.rights_changed", target_type="member", target_id=rights.member.number,
        before=before, after={"covered": rights.covered, "reason": main.code.value},
        effective_on=rights.day.isoformat(), message=details[:300],
    )  # fmt: skip
    return event


def refresh_rights(
    session: Session, tenant: TenantRef, member: Member, day: dt.date | None = None
) -> RightsEvent | None:
    """Compute ``member``'s rights on ``day`` and record a ``RightsEvent`` (and its audit event) if they
    changed since the last one; None when nothing changed."""
    day = day or clock.today()
    with force_locale(HISTORY_LOCALE):
        rights = rights_on(session, tenant, member, day)
    return _record(session, rights, _last_events(session, [member.id], day).get(member.id))


def _refresh_households(
    session: Session, households: Iterable[HouseholdData], day: dt.date
) -> tuple[int, list[RightsEvent]]:
    households = list(households)
    people = [(person, data) for data in households for person in data.people]
    last = _last_events(session, [p.id for p, _data in people], day)
    changes = []
    with force_locale(HISTORY_LOCALE):
        for person, data in people:
            rights = evaluate(session, data, person, day)
            if (event := _record(session, rights, last.get(person.id))) is not None:
                changes.append(event)
    from notifications.triggers import rights_changed

    rights_changed(session, changes, last)  # rights opened or suspended: tell the member
    return len(people), changes


def refresh_household(
    session: Session, tenant: TenantRef, principal: Member, day: dt.date | None = None
) -> list[RightsEvent]:
    """Refresh every person of ``principal``'s household (after a payment, a new subscription, a status
    change); returns the events written, in household order."""
    _require_context(session, tenant)
    day = day or clock.today()
    principal_id = principal.principal_id or principal.id
    _count, changes = _refresh_households(session, load_households(session, [principal_id]).values(), day)
    return changes


@dataclass
class RefreshReport:
    day: dt.date
    households: int = 0
    people: int = 0
    changes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "households": self.households, "people": self.people,
                "changes": self.changes}  # fmt: skip


def refresh_tenant(
    session: Session,
    tenant: TenantRef,
    day: dt.date | None = None,
    *,
    batch_size: int = 500,
    after_batch: Callable[[RefreshReport], None] | None = None,
) -> RefreshReport:
    """Refresh the whole mutual, household by household, ``batch_size`` adhérents at a time (keyset paging
    on ids: a batch committed by ``after_batch`` is never read twice; a rerun writes only what changed)."""
    _require_context(session, tenant)
    day = day or clock.today()
    report = RefreshReport(day=day)
    after = 0
    while True:
        principals = session.scalars(
            select(Member.id)
            .where(Member.principal_id.is_(None), Member.id > after)
            .order_by(Member.id)
            .limit(batch_size)
        ).all()
        if not principals:
            return report
        after = principals[-1]
        people, changes = _refresh_households(session, load_households(session, principals).values(), day)
        report.households += len(principals)
        report.people += people
        report.changes += len(changes)
        session.flush()
        if after_batch is not None:
            after_batch(report)


def rights_history(session: Session, member: Member, limit: int = 50) -> list[RightsEvent]:
    """The latest changes of ``member``'s rights, newest first."""
    query = (
        select(RightsEvent)
        .where(RightsEvent.member_id == member.id)
        .order_by(RightsEvent.effective_on.desc(), RightsEvent.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
