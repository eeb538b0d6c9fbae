"""Each refusing control on plain facts, with its stable code and a French label."""

from __future__ import annotations

import datetime as dt

import pytest

from app.care.controls import LABELS, LineFacts, Reason, Rule, label, refusals

DAY = dt.date(2026, 3, 10)
RULE = Rule(id=100, benefit_id=10, rate_percent=80)


def facts(**kw: object) -> LineFacts:
    data: dict[str, object] = {
        "line_id": 1,
        "record_id": 1,
        "member_id": 1,
        "household_id": 1,
        "provider_id": 1,
        "benefit_id": 10,
        "care_date": DAY,
        "quantity": 1,
        "unit_price_asked": 3000,
        "agreed_price": 3000,
        "rule": RULE,
    }
    data.update(kw)
    return LineFacts(**data)  # type: ignore[arg-type]


def test_a_clean_line_passes() -> None:
    assert refusals(facts()) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"quantity": 0}, [Reason.quantity_invalid]),
        ({"unit_price_asked": -5}, [Reason.quantity_invalid]),
        ({"rights_covered": False, "rights_reason": "arrears"}, [Reason.not_covered]),
        ({"rights_covered": False, "rights_reason": "member_left"}, [Reason.not_covered]),
        ({"rights_covered": False, "rights_reason": "waiting_period"}, [Reason.waiting_period]),
        ({"rule": None}, [Reason.benefit_not_covered]),
        ({"rule": Rule(id=1, benefit_id=10, rate_percent=0, covered=False)}, [Reason.benefit_not_covered]),
        (
            {"rule": Rule(id=1, benefit_id=10, rate_percent=80, min_age=12), "member_age": 8},
            [Reason.age_limit],
        ),
        (
            {"rule": Rule(id=1, benefit_id=10, rate_percent=80, max_age=5), "member_age": 6},
            [Reason.age_limit],
        ),
        (
            {"rule": Rule(id=1, benefit_id=10, rate_percent=80, sex="F"), "member_sex": "M"},
            [Reason.sex_limit],
        ),
        ({"convention_in_force": False, "agreed_price": None}, [Reason.no_convention]),
        ({"agreed_price": None}, [Reason.not_in_convention]),
        (
            {"rule": Rule(id=1, benefit_id=10, rate_percent=80, prior_approval=True)},
            [Reason.prior_approval_missing],
        ),
        ({"billed_elsewhere": True}, [Reason.duplicate]),
    ],
)
def test_each_refusing_control(changes: dict[str, object], expected: list[Reason]) -> None:
    assert refusals(facts(**changes)) == expected


def test_age_limits_are_inclusive_and_approval_passes_with_a_letter() -> None:
    rule = Rule(id=1, benefit_id=10, rate_percent=80, min_age=12, max_age=49, prior_approval=True)
    assert refusals(facts(rule=rule, member_age=12, approved=True)) == []
    assert refusals(facts(rule=rule, member_age=49, approved=True)) == []


def test_every_applicable_reason_is_reported_in_order() -> None:
    found = refusals(
        facts(
            rights_covered=False,
            rights_reason="arrears",
            quantity=0,
            agreed_price=None,
            billed_elsewhere=True,
        )
    )
    assert found == [Reason.quantity_invalid, Reason.not_covered, Reason.not_in_convention, Reason.duplicate]


def test_duplicate_of_a_line_seen_earlier_in_the_batch() -> None:
    line = facts()
    assert refusals(line, seen={line.duplicate_key}) == [Reason.duplicate]
    assert refusals(facts(provider_id=2), seen={line.duplicate_key}) == []


def test_every_code_has_a_french_label(app: object) -> None:
    assert set(LABELS) == set(Reason)
    with app.test_request_context():  # type: ignore[attr-defined]
        assert label("duplicate").startswith("Doublon")
        assert label("unknown_code") == "unknown_code"
