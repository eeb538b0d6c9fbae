"""The security screen's data: security events from the platform audit chain, and alerts.

Security events are audit events whose action starts with ``security.`` (they always go to the public
chain). When the failures from one source (an IP address or an account) pass
``MBOLO_SECURITY_ALERT_THRESHOLD`` within ``MBOLO_SECURITY_ALERT_WINDOW_MINUTES``, an alert is raised once for
that window: platform administrators see it on every page until someone acknowledges it.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.services import record_event
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from app.security.models import SecurityAlert

log = logging.getLogger(__name__)

#: The events that count towards an alert.
FAILURES = (
    "security.sign_in_failed",
    "security.sign_in_locked",
    "security.account_locked",
    "security.stepup_failed",
    "security.stepup_locked",
    "security.permission_denied",
    "security.cross_tenant_attempt",
    "security.link_refused",
    "security.rate_limited",
    "security.api_token_refused",
)
KINDS: dict[str, object] = {
    "failures": _l("Échecs et refus (tous)"),
    "security.sign_in_failed": _l("Connexion refusée"),
    "security.account_locked": _l("Compte verrouillé"),
    "security.stepup_failed": _l("Code de confirmation refusé"),
    "security.stepup_locked": _l("Confirmation bloquée"),
    "security.permission_denied": _l("Accès refusé"),
    "security.cross_tenant_attempt": _l("Tentative d'accès à une autre mutuelle"),
    "security.signed_in": _l("Connexions réussies"),
    "security.grant_added": _l("Profils attribués"),
    "security.grant_revoked": _l("Profils retirés"),
    "security.api_client_created": _l("Clients d'API créés"),
    "security.api_client_revoked": _l("Clients d'API révoqués"),
    "security.api_token_issued": _l("Jetons d'API délivrés"),
    "security.api_token_refused": _l("Jetons d'API refusés"),
}


@dataclass(frozen=True)
class EventFilter:
    kind: str = ""
    who: str = ""
    ip: str = ""
    since: dt.date | None = None
    until: dt.date | None = None


def parse_day(raw: str | None, field: str) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw.strip())
    except ValueError as bad:
        raise FieldError(field, _l("Date attendue au format AAAA-MM-JJ.")) from bad


def search_events(
    session: Session, criteria: EventFilter, *, security_only: bool = True, limit: int = 200
) -> list[AuditEvent]:
    """Platform audit events matching ``criteria``, newest first (security events only, by default)."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if security_only:
        query = query.where(AuditEvent.action.startswith("security."))
    if criteria.kind == "failures":
        query = query.where(AuditEvent.action.in_(FAILURES))
    elif criteria.kind:
        query = query.where(AuditEvent.action == criteria.kind)
    if criteria.who:
        pattern = f"%{criteria.who.strip().lower()}%"
        query = query.where(
            or_(func.lower(AuditEvent.actor_label).like(pattern), AuditEvent.target_id == criteria.who)
        )
    if criteria.ip:
        query = query.where(AuditEvent.ip_address == criteria.ip.strip())
    if criteria.since:
        query = query.where(AuditEvent.at >= dt.datetime.combine(criteria.since, dt.time(), dt.UTC))
    if criteria.until:
        query = query.where(
            AuditEvent.at < dt.datetime.combine(criteria.until + dt.timedelta(days=1), dt.time(), dt.UTC)
        )
    return list(session.scalars(query.limit(limit)))


def open_alerts(session: Session) -> list[SecurityAlert]:
    return list(
        session.scalars(
            select(SecurityAlert)
            .where(SecurityAlert.acknowledged_at.is_(None))
            .order_by(SecurityAlert.raised_at.desc())
        )
    )


def count_open_alerts(session: Session) -> int:
    return session.scalar(select(func.count()).where(SecurityAlert.acknowledged_at.is_(None))) or 0


def check_threshold(
    session: Session, *, ip_address: str | None, account_label: str | None
) -> list[SecurityAlert]:
    """Raise an alert for each source past the threshold in the window (once per window). Called right after
    a failure was recorded, in the same transaction."""
    threshold = current_app.config["MBOLO_SECURITY_ALERT_THRESHOLD"]
    window = dt.timedelta(minutes=current_app.config["MBOLO_SECURITY_ALERT_WINDOW_MINUTES"])
    since = utcnow() - window
    session.flush()
    raised = []
    for source, condition in (
        (f"ip:{ip_address}" if ip_address else None, AuditEvent.ip_address == ip_address),
        (f"account:{account_label}" if account_label else None, AuditEvent.actor_label == account_label),
    ):
        if source is None:
            continue
        count, first = session.execute(
            select(func.count(), func.min(AuditEvent.at)).where(
                AuditEvent.action.in_(FAILURES), AuditEvent.at >= since, condition
            )
        ).one()
        if count < threshold:
            continue
        recent = session.scalar(
            select(SecurityAlert.id).where(SecurityAlert.source == source, SecurityAlert.raised_at >= since)
        )
        if recent is not None:
            continue
        alert = SecurityAlert(source=source, event_count=count, first_event_at=first)
        session.add(alert)
        session.flush()
        log.warning("security alert: %s failures from %s since %s", count, source, first)
        record_event(
            session, Actor.system("security-monitor"), "security.alert_raised", target_type="security_alert",
            target_id=alert.id, source=source, count=count,
        )  # fmt: skip
        raised.append(alert)
    return raised


def acknowledge(session: Session, actor: Actor, alert_id: int, comment: str) -> SecurityAlert:
    actor.require("security.read")
    alert = session.get(SecurityAlert, alert_id)
    if alert is None:
        raise NotFound(_l("Alerte introuvable."))
    if not (comment or "").strip():
        raise FieldError("comment", _l("Indiquez ce qui a été fait."))
    alert.acknowledged_at, alert.acknowledged_by_id, alert.comment = (
        utcnow(),
        actor.account_id,
        comment.strip(),
    )
    record_event(
        session, actor, "security.alert_acknowledged", target_type="security_alert", target_id=alert.id,
        after={"comment": alert.comment},
    )  # fmt: skip
    return alert


def record_failure(session: Session, actor: Actor, action: str, **details: object) -> None:
    """Record a security failure and check the alert threshold (for handlers outside the services)."""
    record_event(session, actor, action, **details)  # type: ignore[arg-type]
    check_threshold(session, ip_address=actor.ip_address, account_label=actor.label)
