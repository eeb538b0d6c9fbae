"""Write audit events."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.security.actor import Actor


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    tenant_slug: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the current transaction (it commits or rolls back with the change)."""
    event = AuditEvent(
        actor_id=actor.account_id,
        actor_label=actor.label,
        ip_address=actor.ip_address,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        tenant_slug=tenant_slug,
        details=details,
    )
    session.add(event)
    return event
