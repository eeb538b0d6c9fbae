"""Complaints and care in the indicators (their tables come from the complaints and claims issues): open,
overdue, resolved within the deadline, satisfaction; care amounts, invoice processing time, beneficiaries
near a ceiling — and the alerts built on them (expenses above revenue, complaints overdue, ceilings)."""

# ruff: noqa: E501 - the fixture writes rows of five tables in plain SQL

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import text

from hierarchy.models import Node
from hierarchy.supervision import alerts, dashboard, snapshots
from hierarchy.supervision import catalogue as cat
from hierarchy.supervision.compute import add_months, month_start
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM
from tests.hierarchy.test_indicators_data import supervised_mutual_fixture  # noqa: F401 - fixture


def _at(month: dt.date, day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(month.year, month.month, day, hour, tzinfo=dt.UTC)


def _activity(session, mutual, month: dt.date) -> None:
    association = mutual.associations["L1-1"]
    with tenant_scope(session, mutual.tenant):
        members = (
            session.execute(
                text(
                    "SELECT id FROM members WHERE association_id = :a AND status = 'active' "
                    "ORDER BY id LIMIT 3"
                ),
                {"a": association},
            )
            .scalars()
            .all()
        )

        def run(sql: str, **params: object) -> object:
            result = session.execute(text(sql), params)
            return result.scalar() if "RETURNING" in sql or sql.lstrip().startswith("SELECT") else None

        for ref, filed, ack, answered, rating, rated in (
            ("REC-T-1", 3, 4, 10, 5, 11),  # answered in time, rated 5
            ("REC-T-2", 5, None, None, None, None),  # never acknowledged: overdue
            ("REC-T-3", 6, 7, 28, 2, 28),  # answered after its deadline, rated 2
        ):
            run(
                """INSERT INTO complaints (public_id, reference, member_id, association_id, category, text, channel,
                   status, escalation_level, filed_at, filed_by_label, acknowledged_at, answered_at, ack_due_at,
                   resolve_due_at, reopened_count, rating, rated_at, updated_at)
                   VALUES (md5(:ref), :ref, :m, :a, 'reception', 'x', 'portal', :status, 0, :filed, 't', :ack,
                           :answered, :ack_due, :resolve_due, 0, :rating, :rated, now())""",
                ref=f"{ref}-{mutual.tenant.slug}",
                m=members[0],
                a=association,
                status="answered" if answered else "received",
                filed=_at(month, filed),
                ack=ack and _at(month, ack),
                answered=answered and _at(month, answered),
                ack_due=_at(month, filed + 2),
                resolve_due=_at(month, filed + 15),
                rating=rating,
                rated=rated and _at(month, rated),
            )
        benefit = run(
            "INSERT INTO benefits (code, name, category, active, created_at) "
            "VALUES ('CONS', 'Consultation', 'act', true, now()) RETURNING id"
        )
        product = run("SELECT id FROM products LIMIT 1")
        rule = run(
            """INSERT INTO product_benefits (product_id, benefit_id, covered, rate_percent, prior_approval)
                      VALUES (:p, :b, true, 80, false) RETURNING id""",
            p=product,
            b=benefit,
        )
        provider = run("""INSERT INTO care_providers (public_id, code, name, kind, region, commune, address, status,
                          payout_method, payout_account, created_at)
                          VALUES (md5('prov'), 'CS-1', 'Centre de santé', 'health_centre', 'Dakar', 'Dakar', '-',
                                  'active', 'wave', '+221770000000', now()) RETURNING id""")
        invoice = run(
            """INSERT INTO care_invoices (public_id, number, provider_id, period_start, period_end, status,
                         source, amount_asked, amount_accepted, member_share, created_at, created_by_label,
                         submitted_at, validated_at)
                         VALUES (md5('inv'), 'BR-1', :p, :start, :start, 'validated', 'provider', 110000, 80000,
                                 20000, now(), 't', :submitted, :validated) RETURNING id""",
            p=provider,
            start=month,
            submitted=_at(month, 2),
            validated=_at(month, 5),
        )
        for member, lines in (
            (members[1], ((60000, 50000, "accepted"), (40000, 30000, "reduced"))),
            (members[2], ((10000, 0, "rejected"),)),
        ):
            record = run(
                """INSERT INTO care_records (public_id, invoice_id, provider_id, member_id, care_date,
                            prescriber, entered_by_label, created_at)
                            VALUES (md5(random()::text), :i, :p, :m, :day, 'Dr Sow', 't', now()) RETURNING id""",
                i=invoice,
                p=provider,
                m=member,
                day=month + dt.timedelta(days=1),
            )
            for asked, accepted, outcome in lines:
                run(
                    """INSERT INTO care_lines (record_id, benefit_id, quantity, unit_price_asked, amount_asked,
                       quantity_accepted, amount_accepted, member_share, outcome, reason_codes, needs_review,
                       review_status)
                       VALUES (:r, :b, 1, :asked, :asked, 1, :accepted, 0, :outcome, ARRAY[]::varchar[], false,
                               'none')""",
                    r=record,
                    b=benefit,
                    asked=asked,
                    accepted=accepted,
                    outcome=outcome,
                )
        run(
            """INSERT INTO ceiling_alerts (member_id, product_benefit_id, year, consumed, ceiling, raised_at)
               VALUES (:m, :rule, :year, 85000, 100000, :at)""",
            m=members[1],
            rule=rule,
            year=month.year,
            at=_at(month, 10),
        )
        session.commit()


def test_complaints_and_care_figures(session, supervised_mutual):
    mutual = supervised_mutual(households=80)
    month = add_months(month_start(mutual.today), -1)
    _activity(session, mutual, month)
    snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    session.commit()
    association = mutual.associations["L1-1"]
    data = dashboard.monthly(session, [association, mutual.federation, mutual.leagues["L1"]], [month])
    own = data[association][month]
    assert {
        k: own.get(k, 0)
        for k in (
            "complaints_filed",
            "complaints_open",
            "complaints_overdue",
            "complaints_resolved",
            "complaints_resolved_sla",
            "ratings_count",
            "ratings_sum",
            "ratings_satisfied",
        )
    } == {
        "complaints_filed": 3,
        "complaints_open": 1,
        "complaints_overdue": 1,
        "complaints_resolved": 2,
        "complaints_resolved_sla": 1,
        "ratings_count": 2,
        "ratings_sum": 7,
        "ratings_satisfied": 1,
    }
    assert (own["care_records"], own["care_amount_asked"], own["care_amount_accepted"]) == (2, 110000, 80000)
    assert own["ceiling_alerts_open"] == 1
    values = dashboard.values_of(cat.aggregate(data[mutual.federation], [month]))
    assert values["processing_days"] == Decimal("3.00")
    assert values["satisfaction_rate"] == Decimal("50.00") and values["satisfaction_score"] == Decimal("3.50")
    assert values["complaints_sla_rate"] == Decimal("50.00")
    assert values["invoices_validated"] == 1 and values["invoices_amount_accepted"] == 80000
    league = data[mutual.leagues["L1"]][month]
    assert league["care_amount_accepted"] == 80000 and "invoices_validated" not in league  # per mutual only


def test_care_and_complaint_alerts_fire(session, supervised_mutual):
    mutual = supervised_mutual(households=40)
    month = add_months(month_start(mutual.today), -1)
    _activity(session, mutual, month)
    federation = session.get(Node, mutual.federation)
    for kind, threshold in (
        ("expenses_above_revenue", 100),
        ("complaints_overdue_above", 0),
        ("ceiling_near_above", 0),
    ):
        alerts.create_rule(
            session, SYSTEM, federation, kind=kind, threshold=Decimal(threshold), applies_to="association"
        )
    session.commit()
    report = snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    raised = alerts.evaluate_after_refresh(session, SYSTEM, mutual.tenant, report.last_month)
    session.commit()
    found = sorted((a.kind, a.node_id, a.month) for a in raised)
    association, current = mutual.associations["L1-1"], month_start(mutual.today)
    assert found == sorted(
        [
            ("expenses_above_revenue", association, month),  # judged on the last complete month
            ("complaints_overdue_above", association, current),  # still overdue now
            ("ceiling_near_above", association, current),
        ]
    )
