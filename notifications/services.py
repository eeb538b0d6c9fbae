"""Notifications: write messages to the outbox in the caller's transaction, deliver them after the commit.

- ``notify`` renders a member event in the member's locale for each channel their preferences allow (SMS,
  e-mail, in-portal); ``portal.sign_in_code`` always goes by SMS whatever the preferences.
- ``notify_staff`` writes messages to staff accounts in ``public.staff_messages`` (with or without a tenant).
- Delivery (``claim`` then ``send_claimed``, driven by ``notifications.tasks``): a message is claimed by one
  conditional UPDATE (queued → sending), committed, then handed to its channel; so a redelivered task, or two
  workers at once, never send a message twice. Transient failures go back to ``queued`` with an exponential
  ``next_attempt_at``; after ``MBOLO_NOTIFY_MAX_ATTEMPTS`` the message is failed with its last error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.members.models import Member
from app.security.actor import Actor
from notifications import channels
from notifications.config import backoff_seconds, setting
from notifications.models import CHANNELS, MemberPreference, MessageStatus, OutboxMessage, StaffMessage
from notifications.rendering import LOCALES, MEMBER_EVENTS, STAFF_EVENTS, render
from tenants.context import TenantRef, current_tenant_of

SIGN_IN_CODE = "portal.sign_in_code"
#: A message left "sending" longer than this was interrupted (worker killed after the claim): it is failed
#: rather than sent again, since the gateway may already have taken it (staff may retry it by hand).
STALE_SENDING = dt.timedelta(minutes=15)
CODE_RE = re.compile(r"\d{4,}")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PREFERENCE_FIELDS = ("locale", "email", "sms_enabled", "email_enabled", "portal_enabled")


# --- queueing ----------------------------------------------------------------------------------------------


def queue_message(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    *,
    channel: str,
    recipient: str,
    body: str,
    subject: str | None = None,
    event: str | None = None,
    member: Member | None = None,
    locale: str | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    """Write a message to the tenant's outbox; delivery is a task sent after the commit."""
    if channel not in CHANNELS:
        raise FieldError("channel", _l("Canal inconnu."))
    if not recipient or not recipient.strip():
        raise FieldError("recipient", _l("Indiquez le destinataire."))
    if not body or not body.strip():
        raise FieldError("body", _l("Le message est vide."))
    if channel == "email" and not EMAIL_RE.match(recipient.strip()):
        raise FieldError("recipient", _l("Adresse e-mail invalide."))
    portal = channel == "portal"
    message = OutboxMessage(
        channel=channel,
        recipient=recipient.strip(),
        body=body.strip(),
        subject=subject,
        event=event,
        member_id=member.id if member is not None else None,
        locale=locale,
        dedupe_key=dedupe_key,
        status=MessageStatus.delivered if portal else MessageStatus.queued,
        delivered_at=utcnow() if portal else None,
        provider="portal" if portal else None,
        attempts=0,
        created_by_label=actor.label,
    )
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
        notification_event=event,
        member=member.number if member is not None else None,
    )
    if not portal:
        _deliver_after_commit(session, message.public_id)
    return message


def _deliver_after_commit(session: Session, public_id: str) -> None:
    from app.worker import enqueue_after_commit
    from notifications.tasks import deliver_message

    enqueue_after_commit(session, deliver_message, public_id)


def _household_phone(member: Member) -> str | None:
    if member.phone:
        return member.phone
    principal = member.principal
    return principal.phone if principal is not None else None


def notify(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    *,
    event: str,
    member: Member,
    context: dict[str, Any],
    dedupe_key: str | None = None,
) -> list[OutboxMessage]:
    """Render the event's message in the member's locale for each channel their preferences allow (sms,
    email, portal) and write it to the outbox in the caller's transaction; delivery tasks go after commit.
    'portal.sign_in_code' always goes by SMS to the member's phone (or the household head's) whatever the
    preferences. ``dedupe_key`` (optional) makes the event once-only per key and channel."""
    if event not in MEMBER_EVENTS:
        raise ValueError(f"unknown member event {event!r}")
    preferences = get_preferences(session, member)
    rendered = render(event, preferences.locale, context)
    phone = _household_phone(member)
    wanted: list[tuple[str, str]] = []
    if event == SIGN_IN_CODE:
        if not phone:
            raise FieldError(
                "phone", _l("Aucun numéro de téléphone n'est connu pour ce membre ou son foyer.")
            )
        wanted.append(("sms", phone))
    else:
        if preferences.sms_enabled and phone:
            wanted.append(("sms", phone))
        if preferences.email_enabled and preferences.email:
            wanted.append(("email", preferences.email))
        if preferences.portal_enabled:
            wanted.append(("portal", member.number))
    messages = []
    for channel, recipient in wanted:
        key = f"{dedupe_key}:{channel}" if dedupe_key else None
        if key and session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)):
            continue
        messages.append(
            queue_message(
                session,
                tenant,
                actor,
                channel=channel,
                recipient=recipient,
                body=rendered.sms if channel == "sms" else rendered.body,
                subject=rendered.subject or None,
                event=event,
                member=member,
                locale=rendered.locale,
                dedupe_key=key,
            )
        )
    return messages


def notify_staff(
    session: Session, actor: Actor, *, event: str, account_ids: Iterable[int], context: dict[str, Any]
) -> int:
    """Messages to staff accounts (their e-mail, else phone) in public.staff_messages; callable with or
    without a tenant context. Returns the number queued."""
    from app.security.models import Account, AccountStatus

    if event not in STAFF_EVENTS:
        raise ValueError(f"unknown staff event {event!r}")
    ids = sorted(set(account_ids))
    if not ids:
        return 0
    tenant = current_tenant_of(session)
    accounts = session.execute(  # columns only: a tenant role may read these, not the credentials
        select(Account.id, Account.public_id, Account.email, Account.phone, Account.locale, Account.status)
        .where(Account.id.in_(ids))
        .order_by(Account.id)
    ).all()
    queued = 0
    for account in accounts:
        if account.status is not AccountStatus.active:
            continue
        channel, recipient = ("email", account.email) if account.email else ("sms", account.phone)
        if not recipient:
            continue
        rendered = render(event, account.locale, context)
        message = StaffMessage(
            account_id=account.id,
            tenant_id=tenant.id if tenant is not None else None,
            event=event,
            channel=channel,
            recipient=recipient,
            subject=rendered.subject or None,
            body=rendered.sms if channel == "sms" else rendered.body,
            locale=rendered.locale,
            status=MessageStatus.queued,
            attempts=0,
            created_by_label=actor.label,
        )
        session.add(message)
        session.flush()
        record_event(
            session,
            actor,
            "notifications.staff_queued",
            target_type="staff_message",
            target_id=message.public_id,
            tenant_slug=tenant.slug if tenant is not None else None,
            channel=channel,
            notification_event=event,
            account=account.public_id,
        )
        from app.worker import enqueue_after_commit
        from notifications.tasks import deliver_staff_message

        enqueue_after_commit(session, deliver_staff_message, message.public_id)
        queued += 1
    return queued


# --- the portal's inbox and the member's preferences -------------------------------------------------------


def portal_messages(session: Session, member: Member, limit: int = 20) -> list[OutboxMessage]:
    """The member's in-portal messages, newest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.member_id == member.id, OutboxMessage.channel == "portal")
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def mark_read(session: Session, member: Member, public_ids: Iterable[str]) -> int:
    """The member saw these in-portal messages (only their own unread ones move): one UPDATE whatever their
    number. Returns how many were marked."""
    ids = list(public_ids)
    if not ids:
        return 0
    marked = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.public_id.in_(ids),
            OutboxMessage.member_id == member.id,
            OutboxMessage.channel == "portal",
            OutboxMessage.read_at.is_(None),
        )
        .values(read_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    return marked.rowcount


def get_preferences(session: Session, member: Member) -> MemberPreference:
    """The member's preferences; defaults (French, SMS and portal on, e-mail off) when none were saved.
    A default object is not added to the session."""
    found = session.scalar(select(MemberPreference).where(MemberPreference.member_id == member.id))
    if found is not None:
        return found
    return MemberPreference(
        member_id=member.id,
        locale="fr",
        email=None,
        sms_enabled=True,
        email_enabled=False,
        portal_enabled=True,
        updated_by_label="",
    )


def set_preferences(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, **fields: Any
) -> MemberPreference:
    """Change some of ``locale`` (fr/en/wo), ``email``, ``sms_enabled``, ``email_enabled``,
    ``portal_enabled``. E-mail needs an address; sign-in codes go by SMS whatever is chosen here."""
    unknown = set(fields) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"unknown preference fields {sorted(unknown)}")
    preferences = get_preferences(session, member)
    before = {name: getattr(preferences, name) for name in PREFERENCE_FIELDS}
    if "locale" in fields:
        locale = (fields["locale"] or "").strip().lower()
        if locale not in LOCALES:
            raise FieldError("locale", _l("Choisissez le français, l'anglais ou le wolof."))
        preferences.locale = locale
    if "email" in fields:
        email = (fields["email"] or "").strip() or None
        if email is not None and (len(email) > 200 or not EMAIL_RE.match(email)):
            raise FieldError("email", _l("Adresse e-mail invalide (exemple : awa.diop@exemple.sn)."))
        preferences.email = email
    for flag in ("sms_enabled", "email_enabled", "portal_enabled"):
        if flag in fields:
            setattr(preferences, flag, bool(fields[flag]))
    if preferences.email_enabled and not preferences.email:
        raise FieldError("email", _l("Indiquez une adresse e-mail pour recevoir les messages par e-mail."))
    after = {name: getattr(preferences, name) for name in PREFERENCE_FIELDS}
    if preferences not in session:
        session.add(preferences)
    elif after == before:
        return preferences
    preferences.updated_by_label = actor.label
    preferences.updated_at = utcnow()
    session.flush()
    record_event(
        session,
        actor,
        "notifications.preferences_changed",
        target_type="member",
        target_id=member.public_id,
        tenant_slug=tenant.slug,
        before=before,
        after=after,
    )
    return preferences


# --- delivery ----------------------------------------------------------------------------------------------

Message = OutboxMessage | StaffMessage


@dataclass(frozen=True)
class Outcome:
    status: str
    retry_in: float | None = None  #: seconds before the next attempt, when one is due


def claim(session: Session, model: type[Message], public_id: str, *, now: dt.datetime | None = None) -> bool:
    """Take the message for sending with one conditional UPDATE (queued → sending). False when another
    worker holds it or it was already sent, delivered or failed: the caller then does nothing."""
    now = now or utcnow()
    claimed = session.execute(
        update(model)
        .where(model.public_id == public_id, model.status == MessageStatus.queued)
        .values(status=MessageStatus.sending, claimed_at=now, attempts=model.attempts + 1)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    ).first()
    session.expire_all()
    return claimed is not None


def send_claimed(
    session: Session, model: type[Message], public_id: str, *, receipt_url: str | None = None
) -> Outcome:
    """Hand a claimed message to its channel and store what happened (sent, delivered, retry or failed)."""
    message = session.scalar(select(model).where(model.public_id == public_id))
    if message is None or message.status is not MessageStatus.sending:
        return Outcome(message.status.value if message is not None else "missing")
    channel = channels.channel_for(message.channel)
    outgoing = channels.Outgoing(
        reference=message.public_id,
        recipient=message.recipient,
        body=message.body,
        subject=message.subject or "",
        receipt_url=receipt_url if channel.name == "http" else None,
    )
    try:
        sent = channel.send(outgoing)
    except channels.TransientError as error:
        if message.attempts >= setting("MBOLO_NOTIFY_MAX_ATTEMPTS"):
            return _failed(session, message, str(error))
        delay = backoff_seconds(message.attempts)
        message.status, message.last_error = MessageStatus.queued, str(error)[:500]
        message.next_attempt_at = utcnow() + dt.timedelta(seconds=delay)
        session.flush()
        _audit(session, message, "notifications.retry_scheduled", attempts=message.attempts, error=str(error))
        return Outcome(MessageStatus.queued.value, retry_in=delay)
    except channels.PermanentError as error:
        return _failed(session, message, str(error))
    now = utcnow()
    message.provider, message.provider_message_id = sent.provider, sent.provider_message_id
    message.sent_at, message.next_attempt_at = now, None
    if sent.delivered:
        message.status, message.delivered_at = MessageStatus.delivered, now
    else:
        message.status = MessageStatus.sent
    if isinstance(message, OutboxMessage) and message.event == SIGN_IN_CODE and sent.provider != "outbox":
        message.body = CODE_RE.sub("••••••", message.body)  # handed to the gateway: staff need not see it
    session.flush()
    _audit(session, message, f"notifications.{message.status.value}", provider=sent.provider)
    return Outcome(message.status.value)


def _failed(session: Session, message: Message, error: str) -> Outcome:
    message.status, message.last_error, message.next_attempt_at = MessageStatus.failed, error[:500], None
    session.flush()
    _audit(session, message, "notifications.failed", attempts=message.attempts, error=error)
    return Outcome(MessageStatus.failed.value)


def _audit(session: Session, message: Message, action: str, **details: Any) -> None:
    tenant = current_tenant_of(session)
    record_event(
        session,
        Actor.system("worker"),
        action,
        target_type="staff_message" if isinstance(message, StaffMessage) else "outbox_message",
        target_id=message.public_id,
        tenant_slug=tenant.slug if tenant is not None else None,
        channel=message.channel,
        **details,
    )


def deliver_message(session: Session, tenant: TenantRef, public_id: str) -> OutboxMessage:
    """Claim and send one outbox message in the caller's transaction (the task commits between the two)."""
    del tenant  # the session's tenant context selects the schema; the parameter documents it
    if claim(session, OutboxMessage, public_id):
        send_claimed(session, OutboxMessage, public_id)
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.public_id == public_id))
    if message is None:
        raise NotFound(f"no message {public_id}")
    return message


def fail_interrupted(session: Session, model: type[Message], *, now: dt.datetime | None = None) -> int:
    """Messages claimed long ago and never finished (worker killed mid-send) are failed, not resent."""
    now = now or utcnow()
    stale = session.scalars(
        select(model).where(model.status == MessageStatus.sending, model.claimed_at < now - STALE_SENDING)
    ).all()
    for message in stale:
        _failed(
            session, message, "Envoi interrompu (le message a peut-être été remis) : relancez-le à la main."
        )
    return len(stale)


def due_for_retry(session: Session, model: type[Message], *, now: dt.datetime | None = None) -> list[str]:
    """Queued messages whose retry time passed (a retry task lost with its worker): to send again."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(model.public_id).where(
                model.status == MessageStatus.queued,
                or_(model.next_attempt_at.is_(None), model.next_attempt_at <= now),
                model.created_at < now - dt.timedelta(minutes=5),
            )
        )
    )


# --- delivery receipts -------------------------------------------------------------------------------------

RECEIPT_STATUSES = {
    "delivered": MessageStatus.delivered,
    "delivrd": MessageStatus.delivered,
    "failed": MessageStatus.failed,
    "undelivered": MessageStatus.failed,
    "undeliv": MessageStatus.failed,
    "rejected": MessageStatus.failed,
    "expired": MessageStatus.failed,
}


def record_receipt(
    session: Session, model: type[Message], *, provider_message_id: str, status: str, error: str | None
) -> Message | None:
    """Apply a gateway's delivery receipt. Only a message sent (or still sending) moves; a delivered or
    failed message stays as it is (a late or repeated receipt changes nothing). Unknown statuses are ignored
    (e.g. intermediate "accepted")."""
    target = RECEIPT_STATUSES.get(status.strip().lower())
    message = session.scalar(select(model).where(model.provider_message_id == provider_message_id))
    if message is None or target is None:
        return message
    if message.status not in (MessageStatus.sent, MessageStatus.sending):
        return message
    message.status = target
    if target is MessageStatus.delivered:
        message.delivered_at = utcnow()
    else:
        message.last_error = (error or status)[:500]
    session.flush()
    _audit(session, message, f"notifications.receipt_{target.value}", receipt_status=status)
    return message


# --- the back office ---------------------------------------------------------------------------------------


def list_messages(
    session: Session,
    tenant: TenantRef,
    limit: int = 50,
    *,
    channel: str | None = None,
    status: str | None = None,
    event: str | None = None,
    offset: int = 0,
) -> list[OutboxMessage]:
    """The tenant's outbox, newest first, with optional filters."""
    del tenant  # the session's tenant context selects the schema; the parameter documents it
    query = select(OutboxMessage)
    if channel:
        query = query.where(OutboxMessage.channel == channel)
    if status and status in MessageStatus.__members__:
        query = query.where(OutboxMessage.status == MessageStatus(status))
    if event:
        query = query.where(OutboxMessage.event == event)
    query = (
        query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).offset(offset).limit(limit)
    )
    return list(session.scalars(query))


def get_message(session: Session, model: type[Message], public_id: str) -> Message:
    message = session.scalar(select(model).where(model.public_id == public_id))
    if message is None:
        raise NotFound(_l("Message introuvable."))
    return message


def retry_message(session: Session, actor: Actor, message: Message) -> Message:
    """Send a failed message again (staff action): back to queued, attempts counted anew."""
    if message.status is not MessageStatus.failed:
        raise FieldError("status", _l("Seul un message en échec peut être renvoyé."))
    before = {"status": message.status.value, "attempts": message.attempts, "last_error": message.last_error}
    message.status, message.attempts, message.next_attempt_at = MessageStatus.queued, 0, None
    session.flush()
    tenant = current_tenant_of(session)
    record_event(
        session,
        actor,
        "notifications.retried",
        target_type="staff_message" if isinstance(message, StaffMessage) else "outbox_message",
        target_id=message.public_id,
        tenant_slug=tenant.slug if tenant is not None else None,
        before=before,
        after={"status": message.status.value, "attempts": 0},
    )
    from app.worker import enqueue_after_commit
    from notifications.tasks import deliver_message as deliver_task
    from notifications.tasks import deliver_staff_message

    enqueue_after_commit(
        session,
        deliver_staff_message if isinstance(message, StaffMessage) else deliver_task,
        message.public_id,
    )
    return message


def list_staff_messages(
    session: Session,
    limit: int = 50,
    *,
    channel: str | None = None,
    status: str | None = None,
    event: str | None = None,
    offset: int = 0,
    account_id: int | None = None,
) -> list[StaffMessage]:
    """Staff messages, newest first (one account's only when ``account_id`` is given)."""
    query = select(StaffMessage)
    if account_id is not None:
        query = query.where(StaffMessage.account_id == account_id)
    if channel:
        query = query.where(StaffMessage.channel == channel)
    if status and status in MessageStatus.__members__:
        query = query.where(StaffMessage.status == MessageStatus(status))
    if event:
        query = query.where(StaffMessage.event == event)
    query = query.order_by(StaffMessage.created_at.desc(), StaffMessage.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(query))
