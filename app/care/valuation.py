"""Valuation of care lines: the documented order, the mutual's share and the member's share (integer XOF).

For a batch of lines (one invoice or many), ``assess`` takes the lines in **care-date order, then record,
then line order**, and for each one:

1. the refusing controls (``app.care.controls.refusals``): any of them → the line is rejected, the mutual
   pays nothing; the member owes the amount asked (care at their expense), except for billing errors
   (duplicate, invalid quantity) where nobody owes anything;
2. **agreed price**: the unit price is the convention's price in force on the care date (never the price of
   the day the invoice is checked); a higher asked price is brought down to it (``price_above_agreed``,
   flagged for review) — the difference is owed by nobody (the convention forbids billing it); a lower asked
   price is taken as it is;
3. **quantity**: frequency limits (``frequency_count`` units per ``frequency_months`` months up to the care
   date, or per calendar year) cut the quantity to what is left (``frequency_limit``; nothing left:
   rejected). The cut units are at the member's expense;
4. **coverage rate / ticket modérateur**: mutual share = basis × rate % (rounded down to the franc); the
   member pays the rest;
5. **ceilings**, in order per act (``ceiling_per_act`` × accepted quantity), per beneficiary per calendar
   year, per household per calendar year: each cuts the mutual's share to what is left of it and the cut
   goes to the member. Each line consumes the ceilings it uses, so when a ceiling is reached in the middle
   of an invoice, the earlier lines (by care date) are paid and the later ones reduced or rejected.

Each line ends ``accepted`` (nothing cut), ``reduced`` (some reason cut the mutual's share or the
quantity) or ``rejected`` (the mutual pays nothing). Lines whose reasons include one of
``controls.REVIEW_REASONS`` (price above the agreed one, a ceiling, an unusual quantity) need the
médecin-conseil's review.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.care.controls import BILLING_ERRORS, REVIEW_REASONS, LineFacts, Outcome, Reason, refusals, unusual


def months_before(day: dt.date, months: int) -> dt.date:
    """The same day ``months`` months earlier (the month's last day when it has fewer days)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def frequency_window(care_date: dt.date, months: int | None) -> tuple[dt.date, dt.date]:
    """The frequency limit's window ending on the care date: the ``months`` months up to it, or the
    calendar year without a period (the same reading as ``app.coverage.rights``)."""
    if months:
        return months_before(care_date, months) + dt.timedelta(days=1), care_date
    return dt.date(care_date.year, 1, 1), care_date


@dataclass
class Consumption:
    """What accepted care already consumed before the batch (from the database), then as the batch runs.

    ``member``: (member id, rule id, year) → mutual's share paid; ``household``: (adhérent id, rule id,
    year) → the same for the whole household; ``units``: (member id, rule id) → [(care date, quantity)]."""

    member: dict[tuple[int, int, int], int] = field(default_factory=lambda: defaultdict(int))
    household: dict[tuple[int, int, int], int] = field(default_factory=lambda: defaultdict(int))
    units: dict[tuple[int, int], list[tuple[dt.date, int]]] = field(default_factory=lambda: defaultdict(list))
    #: keys whose ceiling consumption changed during the batch (for ceiling alerts)
    touched: set[tuple[int, int, int, int]] = field(default_factory=set)

    def units_used(self, member_id: int, rule_id: int, since: dt.date, until: dt.date) -> int:
        return sum(q for day, q in self.units.get((member_id, rule_id), ()) if since <= day <= until)


@dataclass(frozen=True)
class LineResult:
    line_id: int
    rule_id: int | None
    agreed_unit_price: int | None
    quantity_accepted: int
    amount_accepted: int  # the mutual's share
    member_share: int
    outcome: Outcome
    reason_codes: tuple[str, ...]
    needs_review: bool


def _rejected(facts: LineFacts, reasons: list[Reason], unit: int | None) -> LineResult:
    billing_error = any(r in BILLING_ERRORS for r in reasons)
    return LineResult(
        line_id=facts.line_id,
        rule_id=facts.rule.id if facts.rule else None,
        agreed_unit_price=unit,
        quantity_accepted=0,
        amount_accepted=0,
        member_share=0 if billing_error else facts.amount_asked,
        outcome=Outcome.rejected,
        reason_codes=tuple(str(r) for r in reasons),
        needs_review=False,
    )


def value_line(
    facts: LineFacts, consumption: Consumption, seen: set[tuple[int, int, dt.date, int]] | None = None
) -> LineResult:
    """One line, in order, against ``consumption`` (updated with what the line uses)."""
    refused = refusals(facts, seen)
    if refused:
        return _rejected(facts, refused, facts.agreed_price)
    rule, agreed = facts.rule, facts.agreed_price
    assert rule is not None and agreed is not None
    reasons: list[Reason] = []
    # 1. agreed price
    unit = facts.unit_price_asked
    if unit > agreed:
        unit = agreed
        reasons.append(Reason.price_above_agreed)
    # 2. quantity (frequency limits)
    quantity = facts.quantity
    if rule.frequency_count is not None:
        since, until = frequency_window(facts.care_date, rule.frequency_months)
        left = max(0, rule.frequency_count - consumption.units_used(facts.member_id, rule.id, since, until))
        if quantity > left:
            quantity = left
            reasons.append(Reason.frequency_limit)
    if quantity == 0:
        return _rejected(facts, reasons, unit)
    if unusual(facts):
        reasons.append(Reason.unusual_quantity)
    # 3. coverage rate (the rest is the ticket modérateur)
    basis = unit * quantity
    share = basis * rule.rate_percent // 100
    # 4. ceilings: per act, per beneficiary and year, per household and year
    year = facts.care_date.year
    member_key = (facts.member_id, rule.id, year)
    household_key = (facts.household_id, rule.id, year)
    if rule.ceiling_per_act is not None and share > rule.ceiling_per_act * quantity:
        share = rule.ceiling_per_act * quantity
        reasons.append(Reason.ceiling_per_act)
    if rule.ceiling_per_beneficiary_year is not None:
        left = max(0, rule.ceiling_per_beneficiary_year - consumption.member[member_key])
        if share > left:
            share = left
            reasons.append(Reason.ceiling_beneficiary_year)
    if rule.ceiling_per_household_year is not None:
        left = max(0, rule.ceiling_per_household_year - consumption.household[household_key])
        if share > left:
            share = left
            reasons.append(Reason.ceiling_household_year)
    # the member pays the ticket modérateur, what the ceilings cut, and the units beyond the frequency limit
    member_share = basis - share + (facts.quantity - quantity) * unit
    consumption.member[member_key] += share
    consumption.household[household_key] += share
    consumption.units[(facts.member_id, rule.id)].append((facts.care_date, quantity))
    if rule.ceiling_per_beneficiary_year is not None or rule.ceiling_per_household_year is not None:
        consumption.touched.add((facts.member_id, facts.household_id, rule.id, year))
    cut = [r for r in reasons if r is not Reason.unusual_quantity]
    outcome = Outcome.rejected if share == 0 and basis > 0 else (Outcome.reduced if cut else Outcome.accepted)
    return LineResult(
        line_id=facts.line_id,
        rule_id=rule.id,
        agreed_unit_price=agreed,
        quantity_accepted=quantity,
        amount_accepted=share,
        member_share=member_share,
        outcome=outcome,
        reason_codes=tuple(str(r) for r in reasons),
        needs_review=any(r in REVIEW_REASONS for r in reasons),
    )


def assess(lines: Iterable[LineFacts], consumption: Consumption | None = None) -> list[LineResult]:
    """Check and value a batch of lines in valuation order (care date, record, line); results in that
    order. A line accepted or reduced earlier in the batch makes a later identical one a duplicate."""
    consumption = consumption if consumption is not None else Consumption()
    seen: set[tuple[int, int, dt.date, int]] = set()
    results = []
    for facts in sorted(lines, key=lambda f: f.order):
        result = value_line(facts, consumption, seen)
        billing_error = (
            Reason.duplicate in result.reason_codes or Reason.quantity_invalid in result.reason_codes
        )
        if not billing_error:
            seen.add(facts.duplicate_key)
        results.append(result)
    return results
