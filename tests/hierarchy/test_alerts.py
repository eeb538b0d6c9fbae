"""Alerts: a rule fires once per node and month after a refresh, reaches the staff holding reports.read on
the node through notifications, is listed on the dashboard, and is acknowledged with a comment (audited)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, text

from hierarchy.models import Node
from hierarchy.supervision import alerts, snapshots
from hierarchy.supervision.compute import add_months, month_start
from hierarchy.supervision.models import Alert
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM
from tests.hierarchy.test_indicators_data import supervised_mutual_fixture  # noqa: F401 - fixture


def _account_id(session, email):
    return session.execute(text("SELECT id FROM accounts WHERE email = :e"), {"e": email}).scalar_one()


def test_collection_rate_rule_fires_once_notifies_and_is_acknowledged(
    session, supervised_mutual, make_staff, login
):
    mutual = supervised_mutual(households=80)
    previous = add_months(month_start(mutual.today), -1)
    poor = mutual.associations["L1-1"]
    with tenant_scope(session, mutual.tenant):  # nothing collected in one association last month
        session.execute(
            text("""UPDATE allocations SET reversed_at = now() WHERE due_id IN (
            SELECT d.id FROM dues d JOIN members m ON m.id = d.member_id
            WHERE m.association_id = :a AND d.period_start = :month)"""),
            {"a": poor, "month": previous},
        )
        session.commit()
    watcher = make_staff((mutual.federation_code, "supervisor"), mfa_enrolled=False)
    league_l2 = session.get(Node, mutual.leagues["L2"]).code
    outsider = make_staff((league_l2, "supervisor"), mfa_enrolled=False)
    federation = session.get(Node, mutual.federation)
    alerts.create_rule(
        session,
        SYSTEM,
        federation,
        kind="collection_rate_below",
        threshold=Decimal(50),
        applies_to="association",
    )
    session.commit()

    report = snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    raised = alerts.evaluate_after_refresh(session, SYSTEM, mutual.tenant, report.last_month)
    session.commit()
    assert [(a.node_id, a.month, a.value) for a in raised] == [(poor, previous, Decimal("0.00"))]
    assert alerts.evaluate_after_refresh(session, SYSTEM, mutual.tenant, report.last_month) == []  # once
    sent = (
        session.execute(
            text(
                "SELECT account_id FROM staff_messages WHERE event = 'supervision.alert' "
                "AND account_id = ANY(CAST(:ids AS int[]))"
            ),
            {"ids": [_account_id(session, watcher.email), _account_id(session, outsider.email)]},
        )
        .scalars()
        .all()
    )
    assert sent == [_account_id(session, watcher.email)]  # the L2 supervisor is not concerned by L1-1
    alert_id = raised[0].public_id

    client = login(watcher.email)
    board = client.get(f"/supervision/noeuds/{federation.public_id}").get_data(as_text=True)
    assert f"/supervision/alertes/{alert_id}" in board
    refused = client.post(f"/supervision/alertes/{alert_id}", data={"comment": ""})
    assert refused.status_code == 200 and "Indiquez ce qui est fait" in refused.get_data(as_text=True)
    done = client.post(f"/supervision/alertes/{alert_id}", data={"comment": "Relance des agents de collecte"})
    assert done.status_code == 302
    session.expire_all()
    alert = session.scalar(select(Alert).where(Alert.public_id == alert_id))
    assert alert.status == "acknowledged" and alert.comment == "Relance des agents de collecte"
    assert alert.acknowledged_by_id == _account_id(session, watcher.email)
    audited = session.execute(
        text(
            "SELECT count(*) FROM audit_events "
            "WHERE action = 'supervision.alert_acknowledged' AND target_id = :id"
        ),
        {"id": alert_id},
    ).scalar_one()
    assert audited == 1
    assert f"/supervision/alertes/{alert_id}" not in client.get(
        f"/supervision/noeuds/{federation.public_id}"
    ).get_data(as_text=True)


def test_an_alert_outside_ones_subtree_is_not_found(session, supervised_mutual, make_staff, login):
    mutual = supervised_mutual(households=20)
    federation = session.get(Node, mutual.federation)
    alerts.create_rule(
        session, SYSTEM, federation, kind="ceiling_near_above", threshold=Decimal(-0), applies_to="self"
    )
    rule = alerts.create_rule(
        session, SYSTEM, federation, kind="collection_rate_below", threshold=Decimal(101), applies_to="self"
    )
    session.commit()
    report = snapshots.refresh_tenant(session, mutual.tenant, today=mutual.today)
    raised = alerts.evaluate_after_refresh(session, SYSTEM, mutual.tenant, report.last_month)
    session.commit()
    assert [a.rule_id for a in raised] == [rule.id]
    outsider = make_staff((session.get(Node, mutual.leagues["L2"]).code, "supervisor"), mfa_enrolled=False)
    client = login(outsider.email)
    assert client.get(f"/supervision/alertes/{raised[0].public_id}").status_code == 404
