"""Alert rules (per node — a mutual's rules sit on its fédération) evaluated after each snapshot refresh.

Kinds: the collection rate below x %, care expenses accepted above x % of contributions received (100: above
revenue), complaints overdue above n, beneficiaries near a ceiling above n. Rates are judged on the last
complete month (the current one has just begun to be collected); counts on the current month (as of now).
A rule applies to its own node or to each node of one kind below it. One alert per rule, node and month;
it is sent to the staff holding reports.read on the node and stays on the dashboards until acknowledged
with a comment.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text
from sqlalchemy.orm import Session, scoped_session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from hierarchy.models import Node, NodeKind
from hierarchy.supervision import catalogue as cat
from hierarchy.supervision.compute import add_months
from hierarchy.supervision.dashboard import monthly
from hierarchy.supervision.models import Alert, AlertRule
from tenants.context import TenantRef
from tenants.models import Tenant

AnySession = Session | scoped_session[Session]
MANAGE, READ = "alerts.manage", "reports.read"

KINDS = {
    "collection_rate_below": _l("Taux de recouvrement inférieur à (%)"),
    "expenses_above_revenue": _l("Prestations supérieures à (%) des encaissements"),
    "complaints_overdue_above": _l("Réclamations en retard au-delà de"),
    "ceiling_near_above": _l("Bénéficiaires proches d'un plafond au-delà de"),
}
#: Kinds judged on the last complete month.
ON_PREVIOUS_MONTH = {"collection_rate_below", "expenses_above_revenue"}
APPLIES_TO = {
    "self": _l("Ce nœud"),
    NodeKind.federation.value: _l("Chaque fédération (mutuelle) en dessous"),
    NodeKind.league.value: _l("Chaque ligue en dessous"),
    NodeKind.association.value: _l("Chaque association en dessous"),
}
#: Shown in place of a ratio with no revenue at all.
NO_REVENUE = Decimal("999999.99")


def measured(kind: str, measures: dict[str, int]) -> Decimal | None:
    """The value the rule compares with its threshold (None: nothing to judge)."""
    if kind == "collection_rate_below":
        value = cat.INDICATORS["collection_rate"].value(measures)
        return None if value is None else Decimal(value)
    if kind == "expenses_above_revenue":
        expenses, revenue = measures.get("care_amount_accepted", 0), measures.get("payments_received", 0)
        if not expenses:
            return None
        return (
            NO_REVENUE
            if not revenue
            else (Decimal(expenses) * 100 / Decimal(revenue)).quantize(Decimal("0.01"))
        )
    if kind == "complaints_overdue_above":
        return Decimal(measures.get("complaints_overdue", 0))
    if kind == "ceiling_near_above":
        return Decimal(measures.get("ceiling_alerts_open", 0))
    raise ValueError(kind)


def fires(kind: str, value: Decimal | None, threshold: Decimal) -> bool:
    if value is None:
        return False
    return value < threshold if kind == "collection_rate_below" else value > threshold


# --- rules -----------------------------------------------------------------------------------------------


def create_rule(
    session: AnySession, actor: Actor, node: Node, *, kind: str, threshold: Decimal, applies_to: str
) -> AlertRule:
    actor.require(MANAGE, node.path)
    if kind not in KINDS:
        raise FieldError("kind", _l("Type d'alerte inconnu."))
    if applies_to not in APPLIES_TO:
        raise FieldError("applies_to", _l("Choix inconnu."))
    if threshold is None or threshold < 0:
        raise FieldError("threshold", _l("Le seuil doit être un nombre positif."))
    rule = AlertRule(
        node_id=node.id, kind=kind, threshold=threshold, applies_to=applies_to, created_by_label=actor.label
    )
    session.add(rule)
    session.flush()
    record_event(
        session,
        actor,
        "supervision.alert_rule_created",
        target_type="alert_rule",
        target_id=rule.public_id,
        platform=True,
        after={"node": node.code, "kind": kind, "threshold": str(threshold), "applies_to": applies_to},
    )
    return rule


def deactivate_rule(session: AnySession, actor: Actor, public_id: str) -> AlertRule:
    rule = session.scalar(select(AlertRule).where(AlertRule.public_id == public_id))
    if rule is None:
        raise NotFound(_l("Règle introuvable."))
    actor.require(MANAGE, rule.node.path)
    rule.active = False
    session.flush()
    record_event(
        session,
        actor,
        "supervision.alert_rule_disabled",
        target_type="alert_rule",
        target_id=rule.public_id,
        platform=True,
        before={"active": True},
        after={"active": False},
    )
    return rule


def rules_of(session: AnySession, node: Node) -> list[AlertRule]:
    return list(
        session.scalars(
            select(AlertRule)
            .where(AlertRule.node_id == node.id)
            .order_by(AlertRule.active.desc(), AlertRule.id)
        )
    )


# --- evaluation ------------------------------------------------------------------------------------------


def evaluate_after_refresh(
    session: AnySession, actor: Actor, tenant: TenantRef, month: dt.date | None
) -> list[Alert]:
    """Evaluate the rules that concern the tenant's subtree and the nodes above it."""
    if month is None:
        return []
    federation = session.get(Node, session.scalar(select(Tenant.federation_id).where(Tenant.id == tenant.id)))
    return evaluate(session, actor, federation, month)


def evaluate(session: AnySession, actor: Actor, within: Node, month: dt.date) -> list[Alert]:
    """Judge every active rule whose node is ``within`` or above or below it, on the nodes of ``within``'s
    subtree and its ancestors; raise (and send) the alerts not raised yet. Returns the new alerts."""
    ancestors = [int(p) for p in within.path.strip("/").split("/") if p]
    rules = session.scalars(
        select(AlertRule)
        .join(Node, Node.id == AlertRule.node_id)
        .where(
            AlertRule.active.is_(True),
            (Node.id.in_(ancestors)) | (Node.path.startswith(within.path)),
        )
    ).all()
    raised: list[Alert] = []
    for rule in rules:
        if rule.applies_to == "self":
            targets = [rule.node]
        else:
            scope = rule.node.path if rule.node.path.startswith(within.path) else within.path
            targets = list(
                session.scalars(select(Node).where(Node.path.startswith(scope), Node.kind == rule.applies_to))
            )
        judged = add_months(month, -1) if rule.kind in ON_PREVIOUS_MONTH else month
        data = monthly(session, [t.id for t in targets], [judged])
        for target in targets:
            value = measured(rule.kind, data.get(target.id, {}).get(judged, {}))
            if not fires(rule.kind, value, rule.threshold):
                continue
            exists = session.scalar(
                select(Alert.id).where(
                    Alert.rule_id == rule.id, Alert.node_id == target.id, Alert.month == judged
                )
            )
            if exists:
                continue
            alert = Alert(
                rule_id=rule.id,
                node_id=target.id,
                month=judged,
                kind=rule.kind,
                value=value,
                threshold=rule.threshold,
                status="open",
            )
            session.add(alert)
            session.flush()
            record_event(
                session,
                actor,
                "supervision.alert_raised",
                target_type="alert",
                target_id=alert.public_id,
                platform=True,
                after={
                    "node": target.code,
                    "kind": rule.kind,
                    "value": str(value),
                    "threshold": str(rule.threshold),
                    "month": judged.isoformat(),
                },
            )
            _send(session, actor, alert, target)
            raised.append(alert)
    return raised


def describe(alert: Alert) -> str:
    return _(
        "%(kind)s %(threshold)s — mesuré : %(value)s (%(month)s)",
        kind=KINDS.get(alert.kind, alert.kind),
        threshold=_number(alert.threshold),
        value=_number(alert.value),
        month=alert.month.strftime("%m/%Y"),
    )


def _number(value: Decimal) -> str:
    return str(value.normalize()) if value == value.to_integral_value() else f"{value:.2f}".replace(".", ",")


def recipients(session: AnySession, node: Node) -> list[int]:
    """Active staff accounts holding reports.read through a grant on the node or above it."""
    rows = session.execute(
        text(
            """SELECT DISTINCT g.account_id FROM grants g
               JOIN hierarchy_nodes n ON n.id = g.node_id
               JOIN profile_permissions pp ON pp.profile_id = g.profile_id AND pp.permission = :perm
               JOIN accounts a ON a.id = g.account_id AND a.status = 'active'
               WHERE :path LIKE n.path || '%' ORDER BY 1"""
        ),
        {"perm": READ, "path": node.path},
    )
    return [r[0] for r in rows]


def _send(session: AnySession, actor: Actor, alert: Alert, node: Node) -> None:
    """Through notifications' staff channel (``notify_staff``, event ``supervision.alert``)."""
    from notifications.services import notify_staff

    accounts = recipients(session, node)
    if accounts:
        notify_staff(
            session,
            actor,
            event="supervision.alert",
            account_ids=accounts,
            context={"title": str(KINDS[alert.kind]), "node_name": node.name, "detail": describe(alert)},
        )


# --- acknowledgement -------------------------------------------------------------------------------------


def get_alert(session: AnySession, actor: Actor, public_id: str) -> Alert:
    alert = session.scalar(select(Alert).where(Alert.public_id == public_id))
    if alert is None or not actor.can(READ, alert.node.path):
        raise NotFound(_l("Alerte introuvable."))
    return alert


def acknowledge(session: AnySession, actor: Actor, alert: Alert, comment: str) -> Alert:
    actor.require(MANAGE, alert.node.path)
    comment = (comment or "").strip()
    if len(comment) < 3:
        raise FieldError("comment", _l("Expliquez en quelques mots ce qui est fait (3 caractères au moins)."))
    if alert.status != "open":
        raise FieldError("comment", _l("Cette alerte est déjà acquittée."))
    alert.status, alert.comment = "acknowledged", comment[:1000]
    alert.acknowledged_at, alert.acknowledged_by_id, alert.acknowledged_by_label = (
        utcnow(),
        actor.account_id,
        actor.label,
    )
    session.flush()
    record_event(
        session,
        actor,
        "supervision.alert_acknowledged",
        target_type="alert",
        target_id=alert.public_id,
        platform=True,
        before={"status": "open"},
        after={"status": "acknowledged", "comment": comment},
    )
    return alert
