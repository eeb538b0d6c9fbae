"""Queue and deliver messages of the current tenant's outbox."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.security.actor import Actor
from notifications.models import MessageStatus, OutboxMessage
from tenants.context import TenantRef

CHANNELS = ("sms", "email")


def queue_message(
    session: Session, tenant: TenantRef, actor: Actor, *, channel: str, recipient: str, body: str
) -> OutboxMessage:
    """Write a message to the tenant's outbox; delivery is a task sent after the commit."""
    from app.worker import enqueue_after_commit
    from notifications.tasks import deliver_message

    if channel not in CHANNELS:
        raise FieldError("channel", _l("Canal inconnu."))
    if not recipient or not recipient.strip():
        raise FieldError("recipient", _l("Indiquez le destinataire."))
    if not body or not body.strip():
        raise FieldError("body", _l("Le message est vide."))
    message = OutboxMessage(channel=channel, recipient=recipient.strip(), body=body.strip())
    session.add(message)
    session.flush()
    record_event(
        session,
        actor,
        "notifications.queued",
        target_type="outbox_message",
        target_id=message.public_id,
        tenant_slug=tenant.slug,
        channel=channel,
    )
    enqueue_after_commit(session, deliver_message, message.public_id)
    return message


def deliver_message(session: Session, tenant: TenantRef, public_id: str) -> OutboxMessage:
    """Deliver one queued message through its channel (embedded: the outbox itself)."""
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.public_id == public_id))
    if message is None:
        raise NotFound(f"no message {public_id} in {tenant.slug}")
    if message.status is MessageStatus.delivered:
        return message  # redelivered task: nothing twice
    message.attempts += 1
    message.status, message.delivered_at = MessageStatus.delivered, utcnow()
    session.flush()
    record_event(
        session,
        Actor.system("worker"),
        "notifications.delivered",
        target_type="outbox_message",
        target_id=public_id,
        tenant_slug=tenant.slug,
    )
    return message


def list_messages(session: Session, tenant: TenantRef, limit: int = 50) -> list[OutboxMessage]:
    del tenant  # the session's tenant context selects the schema; the parameter documents it
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at.desc()).limit(limit)))
