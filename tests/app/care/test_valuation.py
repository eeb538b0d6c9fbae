"""The valuation order with exact amounts (pure: no database): agreed price → quantity → rate → ceilings,
ceilings reached mid-invoice, frequency limits, duplicates within a batch."""

from __future__ import annotations

import datetime as dt

from app.care.controls import LineFacts, Outcome, Rule
from app.care.valuation import Consumption, assess, value_line

DAY = dt.date(2026, 3, 10)


def line(line_id: int = 1, **kw: object) -> LineFacts:
    data: dict[str, object] = {
        "line_id": line_id,
        "record_id": line_id,
        "member_id": 1,
        "household_id": 1,
        "provider_id": 1,
        "benefit_id": 10,
        "care_date": DAY,
        "quantity": 1,
        "unit_price_asked": 3000,
        "agreed_price": 3000,
        "rule": Rule(id=100, benefit_id=10, rate_percent=80),
    }
    data.update(kw)
    return LineFacts(**data)  # type: ignore[arg-type]


def test_rate_gives_the_mutuals_share_and_the_ticket_moderateur() -> None:
    result = value_line(line(quantity=2, unit_price_asked=3000), Consumption())
    assert (result.amount_accepted, result.member_share, result.outcome) == (4800, 1200, Outcome.accepted)
    assert result.reason_codes == () and not result.needs_review


def test_rounding_is_down_to_the_franc() -> None:
    result = value_line(line(unit_price_asked=1999, agreed_price=1999), Consumption())
    assert (result.amount_accepted, result.member_share) == (1599, 400)


def test_price_above_agreed_is_brought_down_before_the_rate_and_flagged() -> None:
    result = value_line(line(quantity=2, unit_price_asked=4000, agreed_price=3000), Consumption())
    # basis 2 × 3000 = 6000; 80 % = 4800; the 2000 above the agreed price is owed by nobody
    assert (result.agreed_unit_price, result.amount_accepted, result.member_share) == (3000, 4800, 1200)
    assert result.outcome is Outcome.reduced and result.reason_codes == ("price_above_agreed",)
    assert result.needs_review


def test_a_lower_asked_price_is_kept() -> None:
    result = value_line(line(unit_price_asked=2500, agreed_price=3000), Consumption())
    assert (result.amount_accepted, result.member_share, result.outcome) == (2000, 500, Outcome.accepted)


def test_order_price_then_quantity_then_rate_then_ceilings() -> None:
    rule = Rule(
        id=100,
        benefit_id=10,
        rate_percent=70,
        frequency_count=3,
        ceiling_per_act=1500,
        ceiling_per_beneficiary_year=5000,
    )
    consumption = Consumption()
    consumption.units[(1, 100)].append((dt.date(2026, 2, 1), 1))  # one unit used this year
    result = value_line(line(quantity=3, unit_price_asked=2500, agreed_price=2000, rule=rule), consumption)
    # price 2500 → 2000; quantity 3 → 2 left; 2 × 2000 = 4000 × 70 % = 2800; per act 1500 × 2 = 3000 (no cut);
    # beneficiary-year 5000 left (no cut). Member: 4000 − 2800 + 1 cut unit × 2000 = 3200.
    assert (result.quantity_accepted, result.amount_accepted, result.member_share) == (2, 2800, 3200)
    assert result.reason_codes == ("price_above_agreed", "frequency_limit")
    assert result.outcome is Outcome.reduced


def test_ceiling_per_act() -> None:
    rule = Rule(id=100, benefit_id=10, rate_percent=70, ceiling_per_act=25000)
    result = value_line(line(unit_price_asked=40000, agreed_price=40000, rule=rule), Consumption())
    # 70 % of 40000 = 28000 → 25000; member 15000
    assert (result.amount_accepted, result.member_share) == (25000, 15000)
    assert result.reason_codes == ("ceiling_per_act",) and result.needs_review


def test_ceiling_reached_mid_invoice_in_care_date_order() -> None:
    rule = Rule(id=100, benefit_id=10, rate_percent=100, ceiling_per_beneficiary_year=20000)
    consumption = Consumption()
    consumption.member[(1, 100, 2026)] = 5000  # already paid earlier this year
    lines = [
        # entered in this order, valued by care date: 3 (1 March), 1 (5 March), 2 (9 March)
        line(
            1, record_id=1, care_date=dt.date(2026, 3, 5), unit_price_asked=8000, agreed_price=8000, rule=rule
        ),
        line(
            2, record_id=2, care_date=dt.date(2026, 3, 9), unit_price_asked=8000, agreed_price=8000, rule=rule
        ),
        line(
            3, record_id=3, care_date=dt.date(2026, 3, 1), unit_price_asked=6000, agreed_price=6000, rule=rule
        ),
    ]
    results = {r.line_id: r for r in assess(lines, consumption)}
    assert [r.line_id for r in assess(lines, Consumption())] == [3, 1, 2]
    # 15000 left: line 3 takes 6000, line 1 takes 8000, line 2 gets the last 1000
    assert (results[3].amount_accepted, results[3].outcome) == (6000, Outcome.accepted)
    assert (results[1].amount_accepted, results[1].outcome) == (8000, Outcome.accepted)
    assert (results[2].amount_accepted, results[2].member_share, results[2].outcome) == (
        1000,
        7000,
        Outcome.reduced,
    )
    assert results[2].reason_codes == ("ceiling_beneficiary_year",)
    assert consumption.member[(1, 100, 2026)] == 20000
    assert consumption.touched == {(1, 1, 100, 2026)}


def test_nothing_left_of_a_ceiling_rejects() -> None:
    rule = Rule(id=100, benefit_id=10, rate_percent=100, ceiling_per_beneficiary_year=5000)
    consumption = Consumption()
    consumption.member[(1, 100, 2026)] = 5000
    result = value_line(line(rule=rule), consumption)
    assert (result.amount_accepted, result.member_share, result.outcome) == (0, 3000, Outcome.rejected)
    assert result.reason_codes == ("ceiling_beneficiary_year",)


def test_household_ceiling_is_shared_by_the_household() -> None:
    rule = Rule(id=100, benefit_id=10, rate_percent=80, ceiling_per_household_year=10000)
    lines = [
        line(1, member_id=1, household_id=1, unit_price_asked=10000, agreed_price=10000, rule=rule),
        line(2, member_id=2, household_id=1, unit_price_asked=10000, agreed_price=10000, rule=rule),
        line(3, member_id=3, household_id=3, unit_price_asked=10000, agreed_price=10000, rule=rule),
    ]
    results = {r.line_id: r for r in assess(lines)}
    assert results[1].amount_accepted == 8000
    assert (results[2].amount_accepted, results[2].member_share) == (2000, 8000)
    assert results[2].reason_codes == ("ceiling_household_year",)
    assert results[3].amount_accepted == 8000  # another household


def test_frequency_limit_counts_the_window_of_months() -> None:
    rule = Rule(id=100, benefit_id=10, rate_percent=70, frequency_count=1, frequency_months=24)
    consumption = Consumption()
    consumption.units[(1, 100)].append((dt.date(2024, 3, 10), 1))  # 24 months ago to the day: outside
    assert value_line(line(rule=rule), consumption).outcome is Outcome.accepted
    again = value_line(line(2, care_date=dt.date(2027, 1, 5), rule=rule), consumption)
    assert (again.outcome, again.reason_codes, again.member_share) == (
        Outcome.rejected,
        ("frequency_limit",),
        3000,
    )


def test_duplicate_within_a_batch_keeps_the_first() -> None:
    results = assess([line(1), line(2, record_id=1)])
    assert results[0].outcome is Outcome.accepted
    assert (results[1].outcome, results[1].reason_codes, results[1].member_share) == (
        Outcome.rejected,
        ("duplicate",),
        0,
    )


def test_refused_line_costs_the_mutual_nothing_and_the_member_the_amount_asked() -> None:
    result = value_line(line(quantity=2, rights_covered=False, rights_reason="arrears"), Consumption())
    assert (result.amount_accepted, result.member_share, result.outcome) == (0, 6000, Outcome.rejected)
    assert result.reason_codes == ("not_covered",)


def test_unusual_quantity_is_flagged_not_reduced() -> None:
    result = value_line(line(quantity=5, unit_price_asked=1000, agreed_price=1000), Consumption())
    assert (result.amount_accepted, result.outcome, result.needs_review) == (4000, Outcome.accepted, True)
    assert result.reason_codes == ("unusual_quantity",)
    medicine = value_line(
        line(quantity=30, unit_price_asked=100, agreed_price=100, is_medicine=True), Consumption()
    )
    assert not medicine.needs_review
