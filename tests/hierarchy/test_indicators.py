"""Indicators: what a refresh publishes equals direct counts in the tenant; every parent's snapshot is the sum
of its children's; ratios come from summed numerators and denominators; refreshes are idempotent and the
incremental one recomputes the months a change touched."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import text

from hierarchy.supervision import catalogue as cat
from hierarchy.supervision import snapshots
from hierarchy.supervision.compute import add_months, month_start
from tenants.context import tenant_scope
from tests.hierarchy.test_indicators_data import supervised_mutual_fixture  # noqa: F401 - fixture


def _snapshots(session, node_ids):
    rows = session.execute(
        text(
            "SELECT node_id, month, measure, breakdown, value FROM supervision_snapshots "
            "WHERE node_id = ANY(CAST(:ids AS int[]))"
        ),
        {"ids": list(node_ids)},
    )
    found = defaultdict(int)
    for node_id, month, measure, breakdown, value in rows:
        found[(node_id, month, measure, breakdown)] = value
    return found


def _facts(session, tenant_id):
    return sorted(
        session.execute(
            text(
                "SELECT node_id, month, measure, breakdown, value FROM supervision_facts WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).all()
    )


def test_published_figures_equal_direct_counts_in_the_tenant(session, supervised_mutual):
    mutual = supervised_mutual()
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    association = mutual.associations["L1-1"]
    month = add_months(month_start(mutual.today), -2)
    end = add_months(month, 1) - dt.timedelta(days=1)
    with tenant_scope(session, mutual.tenant):
        direct = session.execute(
            text("""
            SELECT count(*) FILTER (WHERE principal_id IS NULL), count(*)
            FROM members m WHERE association_id = :a AND enrolled_on <= :end AND NOT EXISTS (
              SELECT 1 FROM member_status_events e WHERE e.member_id = m.id AND e.to_status = 'left'
              AND e.effective_on <= :end)"""),
            {"a": association, "end": end},
        ).one()
        expected, collected = session.execute(
            text("""
            SELECT sum(d.member_amount), sum(d.paid_amount) FROM dues d JOIN members m ON m.id = d.member_id
            WHERE m.association_id = :a AND d.period_start = :month"""),
            {"a": association, "month": month},
        ).one()
    found = _snapshots(session, [association])
    assert found[(association, month, "adherents_active", "")] == direct[0] > 0
    assert found[(association, month, "beneficiaries_active", "")] == direct[1] > direct[0]
    assert found[(association, month, "dues_expected", "")] == expected > 0
    assert found[(association, month, "dues_collected", "")] == collected > 0
    by_sex = sum(found[(association, month, "beneficiaries_active", s)] for s in cat.SEXES)
    by_age = sum(found[(association, month, "beneficiaries_active", b)] for b in cat.AGE_BANDS)
    assert by_sex == by_age == direct[1]


def test_every_parent_is_the_sum_of_its_children(session, supervised_mutual):
    mutual = supervised_mutual()
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    leagues = mutual.leagues
    children = {
        leagues["L1"]: [mutual.associations["L1-1"], mutual.associations["L1-2"]],
        leagues["L2"]: [mutual.associations["L2-1"], mutual.associations["L2-2"]],
    }
    found = _snapshots(session, [*leagues.values(), *mutual.associations.values(), mutual.federation])
    keys = {(m, code, b) for (_n, m, code, b) in found}
    checked = 0
    for league, kids in children.items():
        for month, code, breakdown in keys:
            if cat.MEASURES[code].level != cat.ASSOCIATION:
                continue
            assert found[(league, month, code, breakdown)] == sum(
                found[(k, month, code, breakdown)] for k in kids
            )
            checked += 1
    assert checked > 100
    for month, code, breakdown in keys:
        if cat.MEASURES[code].level == cat.ASSOCIATION:
            assert found[(mutual.federation, month, code, breakdown)] == sum(
                found[(league, month, code, breakdown)] for league in leagues.values()
            )
    # The ministry is the sum of all its fédérations (every mutual's).
    ministry, federations = session.execute(
        text(
            "SELECT p.id, array_agg(c.id) FROM hierarchy_nodes p "
            "JOIN hierarchy_nodes c ON c.parent_id = p.id "
            "WHERE p.code = 'MIN' GROUP BY p.id"
        )
    ).one()
    month = month_start(mutual.today)
    totals = session.execute(
        text(
            "SELECT measure, sum(value) FILTER (WHERE node_id = :m), sum(value) FILTER (WHERE node_id <> :m) "
            "FROM supervision_snapshots WHERE month = :month AND breakdown = '' "
            "AND node_id = ANY(CAST(:ids AS int[])) GROUP BY measure"
        ),
        {"m": ministry, "month": month, "ids": [ministry, *federations]},
    ).all()
    assert totals and all(parent == kids for _code, parent, kids in totals)


def test_ratios_are_computed_from_sums_never_averaged(session, supervised_mutual):
    mutual = supervised_mutual()
    month = add_months(month_start(mutual.today), -3)
    first = mutual.associations["L1-1"]
    with tenant_scope(session, mutual.tenant):  # the first association collects nothing that month
        session.execute(
            text("""UPDATE allocations SET reversed_at = now() WHERE due_id IN (
            SELECT d.id FROM dues d JOIN members m ON m.id = d.member_id
            WHERE m.association_id = :a AND d.period_start = :month)"""),
            {"a": first, "month": month},
        )
        session.execute(
            text("""UPDATE dues SET status = 'cancelled' WHERE period_start = :month AND member_id IN (
            SELECT id FROM members WHERE association_id = :a AND id % 3 = 0)"""),
            {"a": mutual.associations["L1-2"], "month": month},
        )  # unequal sizes
        session.commit()
    snapshots.refresh_tenant(session, mutual.tenant, full=True, today=mutual.today)
    session.commit()
    kids = [first, mutual.associations["L1-2"]]
    found = _snapshots(session, [mutual.leagues["L1"], *kids])
    rate = cat.INDICATORS["collection_rate"]
    league_rate = rate.value({c: found[(mutual.leagues["L1"], month, c, "")] for c in cat.MEASURES})
    kid_rates = [rate.value({c: found[(k, month, c, "")] for c in cat.MEASURES}) for k in kids]
    expected = (
        sum(found[(k, month, "dues_collected", "")] for k in kids)
        * Decimal(100)
        / sum(found[(k, month, "dues_expected", "")] for k in kids)
    )
    assert kid_rates[0] == 0
    assert league_rate == expected.quantize(Decimal("0.01"))
    assert league_rate != (sum(kid_rates) / 2).quantize(Decimal("0.01"))


def test_refresh_is_idempotent_and_incremental(session, supervised_mutual, monkeypatch):
    monkeypatch.setattr(snapshots, "WATERMARK_MARGIN", dt.timedelta(0))  # the data was written a moment ago
    mutual = supervised_mutual(households=60)
    first = snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    assert first.months == 12
    before = _facts(session, mutual.tenant.id)
    again = snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    assert again.first_month == month_start(mutual.today)  # nothing changed: only the current month
    assert _facts(session, mutual.tenant.id) == before
    full = snapshots.refresh_tenant(session, mutual.tenant, full=True, today=mutual.today)
    session.commit()
    assert full.months == 12 and _facts(session, mutual.tenant.id) == before

    # A payment recorded now for a due of five months ago: the next run recomputes from that month.
    old = add_months(month_start(mutual.today), -5)
    association = mutual.associations["L2-1"]
    with tenant_scope(session, mutual.tenant):
        due = session.execute(
            text("""SELECT d.id, d.member_id, d.member_amount FROM dues d
            JOIN members m ON m.id = d.member_id WHERE d.status = 'open' AND d.period_start = :month
            AND m.association_id = :a LIMIT 1"""),
            {"month": old, "a": association},
        ).one()
        payment = session.execute(
            text("""INSERT INTO contribution_payments (public_id, member_id, amount, method,
            receipt_number, received_on, association_id, agent_label, status, unallocated, created_at)
            VALUES (md5(random()::text), :m, :amount, 'cash', 'LATE-' || :d, :today, :a, 't', 'valid', 0,
                    now())
            RETURNING id"""),
            {
                "m": due.member_id,
                "amount": due.member_amount,
                "d": due.id,
                "today": mutual.today,
                "a": association,
            },
        ).scalar_one()
        session.execute(
            text(
                "INSERT INTO allocations (payment_id, due_id, amount, created_at) "
                "VALUES (:p, :d, :amount, now())"
            ),
            {"p": payment, "d": due.id, "amount": due.member_amount},
        )
        session.commit()
    key = (association, old, "dues_collected", "")
    was = _snapshots(session, [association])[key]
    incremental = snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    assert incremental.first_month == old
    assert _snapshots(session, [association])[key] == was + due.member_amount
    after_incremental = _facts(session, mutual.tenant.id)
    snapshots.refresh_tenant(session, mutual.tenant, full=True, today=mutual.today)
    session.commit()
    assert _facts(session, mutual.tenant.id) == after_incremental
