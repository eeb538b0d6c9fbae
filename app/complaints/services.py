"""Complaints: filing, the staff's actions, the member's reopening and rating, service levels, escalation and
the indicators. Every function runs in the tenant's scope (the caller binds it), takes the actor explicitly,
flushes and never commits; every change of state is written to the complaint's timeline and audited.

**References.** ``REC-<year>-<000123>``: one gapless sequence per mutual and per year of filing, computed as
``max + 1`` under a transaction-scoped advisory lock (as the receipts of ``app.contributions.payments``): a
database sequence would leave holes on rollback, and a member quoting a reference expects none.

**Service levels** (``complaints.*`` rows of the mutual's ``settings``, screen "Délais"): acknowledge within
``ack_hours`` (48 h), answer within ``resolve_days`` (15 days), both from the filing; the member may reopen a
closed complaint within ``reopen_days`` (7) unless they rated it, which gives it a fresh answering window; an
overdue complaint goes up one level (association → ligue → fédération) and, if it stays overdue
``escalation_days`` (5) later, up once more. Overdue = not acknowledged after ``ack_due_at``, or not answered
nor closed after ``resolve_due_at`` (the contract the supervision indicators read).

**Who.** Staff see and handle the complaints of the associations where they hold ``complaints.read`` /
``complaints.handle`` (the subtree of their grants: a ligue sees its associations'); a member sees only theirs
(the portal passes the member, never an id from the URL alone).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, case, func, or_, select, text
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from app.audit.services import record_event, record_read
from app.complaints.models import (
    OPEN_STATUSES,
    Category,
    Channel,
    Complaint,
    ComplaintEvent,
    EventKind,
    Status,
    Visibility,
)
from app.database import utcnow
from app.errors import DomainError, FieldError, NotFound
from app.members.models import Member, MemberStatus
from app.members.services import tenant_federation
from app.security.actor import Actor
from hierarchy.models import Node, NodeKind
from tenants.context import TenantRef, current_tenant_of
from tenants.models import TenantSetting

#: First key of this module's two-key advisory locks ("MBC").
_LOCK_NAMESPACE = 0x4D4243
_REFERENCE = re.compile(r"^REC-(\d{4})-(\d{6})$")
TEXT_MIN, TEXT_MAX = 10, 4000
NOTE_MAX = 4000

CATEGORY_LABELS: dict[str, object] = {
    "refused_care": _l("Prise en charge refusée"),
    "reimbursement": _l("Remboursement"),
    "reception": _l("Accueil"),
    "contribution": _l("Cotisation"),
    "other": _l("Autre"),
}
STATUS_LABELS: dict[str, object] = {
    "received": _l("Reçue"),
    "acknowledged": _l("Prise en compte"),
    "in_progress": _l("En cours de traitement"),
    "answered": _l("Réponse envoyée"),
    "closed": _l("Clôturée"),
}
CHANNEL_LABELS: dict[str, object] = {"portal": _l("Portail"), "counter": _l("Guichet")}
LEVEL_LABELS: dict[int, object] = {0: _l("Association"), 1: _l("Ligue"), 2: _l("Fédération")}
EVENT_LABELS: dict[str, object] = {
    "filed": _l("Réclamation déposée"),
    "acknowledged": _l("Réclamation prise en compte"),
    "assigned": _l("Attribuée"),
    "note": _l("Note interne"),
    "reply": _l("Réponse"),
    "closed": _l("Clôturée"),
    "reopened": _l("Rouverte"),
    "rated": _l("Avis de l'adhérent"),
    "escalated": _l("Escaladée"),
}


# --- service levels ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaSettings:
    ack_hours: int = 48
    resolve_days: int = 15
    reopen_days: int = 7
    escalation_days: int = 5


#: field → (smallest, largest) accepted value.
SLA_BOUNDS = {
    "ack_hours": (1, 720),
    "resolve_days": (1, 180),
    "reopen_days": (0, 90),
    "escalation_days": (1, 60),
}
_SLA_PREFIX = "complaints."


def sla_settings(session: Session) -> SlaSettings:
    """The mutual's service levels (defaults where nothing is stored)."""
    stored = {
        row.key.removeprefix(_SLA_PREFIX): row.value
        for row in session.scalars(select(TenantSetting).where(TenantSetting.key.startswith(_SLA_PREFIX)))
    }
    known = {k: int(v) for k, v in stored.items() if k in SLA_BOUNDS and isinstance(v, int | str)}
    return SlaSettings(**{**SlaSettings().__dict__, **known})


def configure_sla(session: Session, tenant: TenantRef, actor: Actor, **raw: str | int) -> SlaSettings:
    """Change the service levels (``complaints.configure`` on the mutual's fédération). Values are whole
    numbers within ``SLA_BOUNDS``; a bad one is refused with its field. The deadlines of complaints already
    filed stay as they were announced; the reopening and escalation windows apply at once."""
    federation = tenant_federation(session, tenant)
    actor.require("complaints.configure", federation.path)
    before = sla_settings(session)
    values: dict[str, int] = {}
    for field, (low, high) in SLA_BOUNDS.items():
        value = raw.get(field, getattr(before, field))
        try:
            number = int(str(value).strip())
        except ValueError:
            raise FieldError(field, _l("Indiquez un nombre entier.")) from None
        if not low <= number <= high:
            raise FieldError(field, _l("Entre %(low)s et %(high)s.", low=low, high=high))
        values[field] = number
    for field, number in values.items():
        row = session.get(TenantSetting, _SLA_PREFIX + field)
        if row is None:
            session.add(TenantSetting(key=_SLA_PREFIX + field, value=number))
        else:
            row.value = number
    session.flush()
    after = SlaSettings(**values)
    record_event(
        session, actor, "complaints.sla_configured", target_type="settings", target_id="complaints",
        before=before.__dict__, after=after.__dict__,
    )  # fmt: skip
    return after


def due_dates(filed_at: dt.datetime, sla: SlaSettings) -> tuple[dt.datetime, dt.datetime]:
    """(acknowledge by, answer by) for a complaint filed at ``filed_at``."""
    return filed_at + dt.timedelta(hours=sla.ack_hours), filed_at + dt.timedelta(days=sla.resolve_days)


def overdue_clause(now: dt.datetime) -> Any:
    """SQL: the complaint is overdue at ``now`` (see the module doc)."""
    return and_(
        Complaint.status != Status.closed,
        or_(
            and_(Complaint.acknowledged_at.is_(None), Complaint.ack_due_at < now),
            and_(Complaint.answered_at.is_(None), Complaint.resolve_due_at < now),
        ),
    )


# --- helpers -----------------------------------------------------------------------------------------------


def _lock(session: Session, name: str) -> None:
    tenant = current_tenant_of(session)
    scope = tenant.schema if tenant is not None else "public"
    session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
        {"ns": _LOCK_NAMESPACE, "name": f"{scope}:{name}"},
    )


def next_reference(session: Session, year: int) -> str:
    """``REC-<year>-<n>``: max + 1 of the year under the mutual's lock (gapless, see the module doc)."""
    _lock(session, f"reference:{year}")
    last = session.scalar(
        select(Complaint.reference)
        .where(Complaint.reference.between(f"REC-{year}-000000", f"REC-{year}-999999"))
        .order_by(Complaint.reference.desc())
        .limit(1)
    )
    return f"REC-{year}-{int(last.rsplit('-', 1)[1]) + 1 if last else 1:06d}"


def _snapshot(complaint: Complaint) -> dict[str, Any]:
    def iso(value: dt.datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "status": str(complaint.status),
        "escalation_level": complaint.escalation_level,
        "assigned_to_id": complaint.assigned_to_id,
        "acknowledged_at": iso(complaint.acknowledged_at),
        "answered_at": iso(complaint.answered_at),
        "closed_at": iso(complaint.closed_at),
        "resolve_due_at": iso(complaint.resolve_due_at),
        "rating": complaint.rating,
    }


def _event(
    session: Session, complaint: Complaint, actor: Actor, kind: EventKind, *, visibility: Visibility,
    body: str = "", from_status: Status | None = None, now: dt.datetime | None = None,
) -> ComplaintEvent:  # fmt: skip
    event = ComplaintEvent(
        complaint_id=complaint.id, kind=kind, visibility=visibility, body=body,
        from_status=str(from_status) if from_status else None,
        to_status=str(complaint.status) if from_status and from_status != complaint.status else None,
        author_id=actor.account_id, author_label=actor.label[:200], created_at=now or utcnow(),
    )  # fmt: skip
    session.add(event)
    return event


def _clean_text(raw: str | None, field: str, *, minimum: int = 1, maximum: int = NOTE_MAX) -> str:
    value = (raw or "").strip()
    if len(value) < minimum:
        if minimum > 1:
            raise FieldError(field, _l("Décrivez en quelques mots (%(n)s caractères au moins).", n=minimum))
        raise FieldError(field, _l("Écrivez le message."))
    if len(value) > maximum:
        raise FieldError(field, _l("%(n)s caractères au plus.", n=maximum))
    return value


def _notify_member(
    session: Session, tenant: TenantRef, actor: Actor, complaint: Complaint, message: str
) -> None:
    """Tell the member (SMS / e-mail / portal per their preferences) that their complaint moved."""
    from notifications import services as notifications

    member = session.get(Member, complaint.member_id)
    assert member is not None
    notifications.notify(
        session, tenant, actor, event="complaint.updated", member=member,
        context={
            "reference": complaint.reference,
            "status_label": str(STATUS_LABELS[str(complaint.status)]),
            "message": message,
        },
    )  # fmt: skip


def association_of(session: Session, complaint: Complaint) -> Node:
    node = session.get(Node, complaint.association_id)
    assert node is not None
    return node


def in_reach(actor: Actor, node: Node) -> bool:
    """Whether the actor may see the complaints of ``node`` (``complaints.read`` or ``complaints.handle``)."""
    return actor.can("complaints.read", node.path) or actor.can("complaints.handle", node.path)


def _require(session: Session, actor: Actor, complaint: Complaint, permission: str) -> Node:
    """``permission`` on the complaint's association; a complaint out of reach reads as not found."""
    node = association_of(session, complaint)
    if not (in_reach(actor, node) or actor.can(permission, node.path)):
        raise NotFound(_l("Réclamation introuvable."))
    actor.require(permission, node.path)
    return node


def _require_open(complaint: Complaint) -> None:
    if complaint.status is Status.closed:
        raise DomainError(_l("Cette réclamation est clôturée."))


# --- filing ------------------------------------------------------------------------------------------------


def _category(raw: str | Category | None) -> Category:
    try:
        return Category(str(raw or ""))
    except ValueError:
        raise FieldError("category", _l("Choisissez une catégorie.")) from None


def file_complaint(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    member: Member,
    *,
    category: str | Category,
    text: str,
    photo: FileStorage | None = None,
    channel: Channel | str = Channel.portal,
    now: dt.datetime | None = None,
) -> Complaint:
    """A complaint of ``member``: from the portal (the member's own actor) or at the counter (an agent with
    ``complaints.handle`` on the member's association; the agent is recorded). Due dates are set now from the
    mutual's service levels; the member is told the reference."""
    channel = Channel(str(channel))
    if channel is Channel.counter:
        node = session.get(Node, member.association_id)
        if node is None or not actor.can("complaints.handle", node.path):
            raise NotFound(_l("Adhérent introuvable."))
    if member.status is MemberStatus.deceased:
        raise DomainError(_l("Ce membre est décédé : une réclamation se dépose au nom d'un autre membre."))
    kind = _category(category)
    body = _clean_text(text, "text", minimum=TEXT_MIN, maximum=TEXT_MAX)
    photo_path = None
    if photo is not None and photo.filename:
        from app.complaints.photos import store_photo

        photo_path = store_photo(session, tenant, photo)
    now = now or utcnow()
    ack_due, resolve_due = due_dates(now, sla_settings(session))
    complaint = Complaint(
        reference=next_reference(session, now.year), member_id=member.id,
        association_id=member.association_id, category=kind, text=body, photo_path=photo_path,
        channel=channel, status=Status.received, escalation_level=0, filed_at=now, ack_due_at=ack_due,
        resolve_due_at=resolve_due, filed_by_id=actor.account_id if channel is Channel.counter else None,
        filed_by_label=actor.label[:200], reopened_count=0, updated_at=now,
    )  # fmt: skip
    session.add(complaint)
    session.flush()
    _event(session, complaint, actor, EventKind.filed, visibility=Visibility.member, now=now,
           body=str(CHANNEL_LABELS[str(channel)]))  # fmt: skip
    _notify_member(
        session, tenant, actor, complaint,
        str(_l("Votre réclamation %(reference)s est enregistrée. Nous vous répondrons au plus vite.",
               reference=complaint.reference)),
    )  # fmt: skip
    record_event(
        session, actor, "complaints.filed", target_type="complaint", target_id=complaint.reference,
        after={**_snapshot(complaint), "member": member.number, "category": str(kind),
               "channel": str(channel), "photo": bool(photo_path)},
    )  # fmt: skip
    return complaint


# --- reading -----------------------------------------------------------------------------------------------


def get_for_staff(
    session: Session, tenant: TenantRef, actor: Actor, public_id: str, *, audit_read: bool = True
) -> Complaint:
    """A complaint in the actor's reach (``complaints.read`` or ``complaints.handle``); reading it is audited:
    it tells about a member's care."""
    complaint = session.scalar(select(Complaint).where(Complaint.public_id == public_id))
    if complaint is None:
        raise NotFound(_l("Réclamation introuvable."))
    if not in_reach(actor, association_of(session, complaint)):
        raise NotFound(_l("Réclamation introuvable."))
    if audit_read:
        record_read(session, actor, "complaint", complaint.reference)
    return complaint


def get_for_member(session: Session, member: Member, public_id: str) -> Complaint:
    """One of ``member``'s own complaints (anyone else's reads as not found)."""
    complaint = session.scalar(
        select(Complaint).where(Complaint.public_id == public_id, Complaint.member_id == member.id)
    )
    if complaint is None:
        raise NotFound(_l("Réclamation introuvable."))
    return complaint


def complaints_of(session: Session, member: Member) -> list[Complaint]:
    """The member's complaints, newest first."""
    return list(
        session.scalars(
            select(Complaint).where(Complaint.member_id == member.id).order_by(Complaint.filed_at.desc())
        )
    )


def timeline(session: Session, complaint: Complaint, *, member_view: bool = False) -> list[ComplaintEvent]:
    """The complaint's events in order; the member sees only those meant for them."""
    query = select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id)
    if member_view:
        query = query.where(ComplaintEvent.visibility == Visibility.member)
    return list(session.scalars(query.order_by(ComplaintEvent.created_at, ComplaintEvent.id)))


def associations_in_reach(session: Session, actor: Actor, tenant: TenantRef) -> list[Node]:
    """The mutual's associations where the actor may read (or handle) complaints."""
    federation = tenant_federation(session, tenant)
    query = (
        select(Node)
        .where(Node.kind == NodeKind.association, Node.path.startswith(federation.path))
        .order_by(Node.name)
    )
    return [n for n in session.scalars(query) if in_reach(actor, n)]


@dataclass(frozen=True)
class QueueFilters:
    status: str = ""  # a Status value, "open" (default view) or "" (all)
    category: str = ""
    association_id: int | None = None
    overdue: bool = False
    mine: bool = False


@dataclass(frozen=True)
class QueuePage:
    items: list[Complaint]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _urgency(now: dt.datetime) -> list[Any]:
    """Most urgent first: open before closed; escalated higher first; then the nearest deadline (an overdue
    one is the nearest); closed ones last, most recent first."""
    next_due = case(
        (Complaint.answered_at.is_not(None), None),
        (Complaint.acknowledged_at.is_(None), Complaint.ack_due_at),
        else_=Complaint.resolve_due_at,
    )
    is_closed = case((Complaint.status == Status.closed, 1), else_=0)
    waiting = case((Complaint.answered_at.is_(None), 0), else_=1)  # answered: the member's turn
    return [
        is_closed, waiting, Complaint.escalation_level.desc(), next_due.asc().nulls_last(),
        Complaint.closed_at.desc().nulls_last(), Complaint.id.desc(),
    ]  # fmt: skip


def queue(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    filters: QueueFilters,
    *,
    now: dt.datetime | None = None,
    page: int = 1,
    per_page: int = 25,
    associations: Sequence[Node] | None = None,
) -> QueuePage:
    """The complaints of the associations in reach, filtered, most urgent first. ``associations``: the
    caller's ``associations_in_reach`` answer, when it has it already."""
    now = now or utcnow()
    if associations is None:
        associations = associations_in_reach(session, actor, tenant)
    in_reach = [n.id for n in associations]
    query: Select[tuple[Complaint]] = select(Complaint).where(Complaint.association_id.in_(in_reach))
    if filters.status == "open":
        query = query.where(Complaint.status.in_(OPEN_STATUSES))
    elif filters.status:
        query = query.where(Complaint.status == filters.status)
    if filters.category:
        query = query.where(Complaint.category == filters.category)
    if filters.association_id is not None:
        query = query.where(Complaint.association_id == filters.association_id)
    if filters.overdue:
        query = query.where(overdue_clause(now))
    if filters.mine:
        query = query.where(Complaint.assigned_to_id == actor.account_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    items = list(
        session.scalars(query.order_by(*_urgency(now)).offset((page - 1) * per_page).limit(per_page))
    )
    return QueuePage(items=items, total=total, page=page, per_page=per_page)


def members_of(session: Session, complaints: Sequence[Complaint]) -> dict[int, Member]:
    ids = {c.member_id for c in complaints}
    return {m.id: m for m in session.scalars(select(Member).where(Member.id.in_(ids)))} if ids else {}


# --- staff actions -----------------------------------------------------------------------------------------


def acknowledge(
    session: Session, tenant: TenantRef, actor: Actor, complaint: Complaint, *, now: dt.datetime | None = None
) -> Complaint:
    """Received → acknowledged: the member is told someone looks at it."""
    _require(session, actor, complaint, "complaints.handle")
    if complaint.status is not Status.received:
        raise DomainError(_l("Cette réclamation est déjà prise en compte."))
    before, now = _snapshot(complaint), now or utcnow()
    complaint.status, complaint.acknowledged_at = Status.acknowledged, now
    _event(session, complaint, actor, EventKind.acknowledged, visibility=Visibility.member,
           from_status=Status.received, now=now)  # fmt: skip
    session.flush()
    _notify_member(
        session, tenant, actor, complaint,
        str(_l("Votre réclamation %(reference)s est prise en compte.", reference=complaint.reference)),
    )  # fmt: skip
    record_event(session, actor, "complaints.acknowledged", target_type="complaint",
                 target_id=complaint.reference, before=before, after=_snapshot(complaint))  # fmt: skip
    return complaint


@dataclass(frozen=True)
class Handler:
    account_id: int
    label: str


def handlers_for(session: Session, node: Node) -> list[Handler]:
    """Active staff accounts holding ``complaints.handle`` on ``node`` (a grant on it or an ancestor)."""
    from app.security.models import Account, AccountStatus, Grant, Profile, profile_permissions_table

    ancestors = [node.path[: i + 1] for i, ch in enumerate(node.path) if ch == "/" and i > 0]
    rows = session.execute(
        select(Account.id, Account.full_name, Account.email, Account.phone)
        .join(Grant, Grant.account_id == Account.id)
        .join(Node, Node.id == Grant.node_id)
        .join(Profile, Profile.id == Grant.profile_id)
        .join(profile_permissions_table, profile_permissions_table.c.profile_id == Profile.id)
        .where(
            Node.path.in_(ancestors),
            profile_permissions_table.c.permission == "complaints.handle",
            Account.status == AccountStatus.active,
        )
        .distinct()
        .order_by(Account.full_name, Account.id)
    ).all()
    return [Handler(r.id, f"{r.full_name} ({r.email or r.phone or '—'})") for r in rows]


def handlers_at(session: Session, node: Node) -> list[int]:
    """Accounts holding ``complaints.handle`` through a grant on ``node`` itself — the people *at* that level
    (an escalation to the ligue tells the ligue's staff, not the fédération's)."""
    from app.security.models import Account, AccountStatus, Grant, profile_permissions_table

    return list(
        session.scalars(
            select(Account.id)
            .join(Grant, Grant.account_id == Account.id)
            .join(profile_permissions_table, profile_permissions_table.c.profile_id == Grant.profile_id)
            .where(
                Grant.node_id == node.id,
                profile_permissions_table.c.permission == "complaints.handle",
                Account.status == AccountStatus.active,
            )
            .distinct()
            .order_by(Account.id)
        )
    )


def assign(
    session: Session, tenant: TenantRef, actor: Actor, complaint: Complaint, account_id: int | str | None,
    *, now: dt.datetime | None = None,
) -> Complaint:  # fmt: skip
    """Give the complaint to a staff member holding ``complaints.handle`` on its association (taking it in
    hand acknowledges it if nobody had)."""
    node = _require(session, actor, complaint, "complaints.handle")
    _require_open(complaint)
    try:
        target = int(str(account_id or "").strip())
    except ValueError:
        raise FieldError("account", _l("Choisissez une personne.")) from None
    handler = next((h for h in handlers_for(session, node) if h.account_id == target), None)
    if handler is None:
        raise FieldError("account", _l("Cette personne ne traite pas les réclamations de cette association."))
    before, now, from_status = _snapshot(complaint), now or utcnow(), complaint.status
    complaint.assigned_to_id, complaint.assigned_to_label = handler.account_id, handler.label[:200]
    if complaint.acknowledged_at is None:
        complaint.acknowledged_at = now
    if complaint.status in (Status.received, Status.acknowledged):
        complaint.status = Status.in_progress
    _event(session, complaint, actor, EventKind.assigned, visibility=Visibility.internal,
           body=handler.label, from_status=from_status, now=now)  # fmt: skip
    session.flush()
    record_event(session, actor, "complaints.assigned", target_type="complaint",
                 target_id=complaint.reference, before=before, after=_snapshot(complaint))  # fmt: skip
    return complaint


def add_note(
    session: Session, tenant: TenantRef, actor: Actor, complaint: Complaint, body: str,
    *, now: dt.datetime | None = None,
) -> ComplaintEvent:  # fmt: skip
    """An internal note (staff only; never shown to the member)."""
    _require(session, actor, complaint, "complaints.handle")
    note = _clean_text(body, "body")
    event = _event(session, complaint, actor, EventKind.note, visibility=Visibility.internal, body=note,
                   now=now)  # fmt: skip
    session.flush()
    record_event(session, actor, "complaints.note_added", target_type="complaint",
                 target_id=complaint.reference, event_id=event.id)  # fmt: skip
    return event


def reply(
    session: Session, tenant: TenantRef, actor: Actor, complaint: Complaint, body: str,
    *, now: dt.datetime | None = None,
) -> ComplaintEvent:  # fmt: skip
    """A reply to the member: shown in the portal and sent to them; the complaint becomes answered (the first
    answer stops the resolution clock)."""
    _require(session, actor, complaint, "complaints.handle")
    _require_open(complaint)
    message = _clean_text(body, "body")
    before, now, from_status = _snapshot(complaint), now or utcnow(), complaint.status
    complaint.acknowledged_at = complaint.acknowledged_at or now
    complaint.answered_at = complaint.answered_at or now
    complaint.status = Status.answered
    event = _event(session, complaint, actor, EventKind.reply, visibility=Visibility.member, body=message,
                   from_status=from_status, now=now)  # fmt: skip
    session.flush()
    _notify_member(session, tenant, actor, complaint, message)
    record_event(session, actor, "complaints.replied", target_type="complaint", target_id=complaint.reference,
                 before=before, after=_snapshot(complaint), event_id=event.id)  # fmt: skip
    return event


def close(
    session: Session, tenant: TenantRef, actor: Actor, complaint: Complaint, message: str = "",
    *, now: dt.datetime | None = None,
) -> Complaint:  # fmt: skip
    """Close the complaint, with an optional last word to the member; the member is then asked to rate it."""
    _require(session, actor, complaint, "complaints.handle")
    _require_open(complaint)
    word = (message or "").strip()
    if len(word) > NOTE_MAX:
        raise FieldError("message", _l("%(n)s caractères au plus.", n=NOTE_MAX))
    before, now, from_status = _snapshot(complaint), now or utcnow(), complaint.status
    complaint.acknowledged_at = complaint.acknowledged_at or now
    complaint.answered_at = complaint.answered_at or now
    complaint.status, complaint.closed_at = Status.closed, now
    _event(session, complaint, actor, EventKind.closed, visibility=Visibility.member, body=word,
           from_status=from_status, now=now)  # fmt: skip
    session.flush()
    _notify_member(
        session, tenant, actor, complaint,
        word or str(_l("Votre réclamation %(reference)s est clôturée. Donnez-nous votre avis sur le portail.",
                       reference=complaint.reference)),
    )  # fmt: skip
    record_event(session, actor, "complaints.closed", target_type="complaint", target_id=complaint.reference,
                 before=before, after=_snapshot(complaint))  # fmt: skip
    return complaint


# --- the member's actions ----------------------------------------------------------------------------------


def can_reopen(session: Session, complaint: Complaint, now: dt.datetime | None = None) -> bool:
    if complaint.status is not Status.closed or complaint.rating is not None or complaint.closed_at is None:
        return False
    limit = complaint.closed_at + dt.timedelta(days=sla_settings(session).reopen_days)
    return (now or utcnow()) <= limit


def reopen(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, complaint: Complaint, reason: str,
    *, now: dt.datetime | None = None,
) -> Complaint:  # fmt: skip
    """The member is not satisfied: back to in progress, with a fresh answering window (the old answer stays
    in the timeline). Only within ``reopen_days`` of the closing and before rating."""
    if complaint.member_id != member.id:
        raise NotFound(_l("Réclamation introuvable."))
    now = now or utcnow()
    if not can_reopen(session, complaint, now):
        raise DomainError(_l("Cette réclamation ne peut plus être rouverte."))
    why = _clean_text(reason, "reason", minimum=TEXT_MIN, maximum=TEXT_MAX)
    before = _snapshot(complaint)
    complaint.status, complaint.closed_at, complaint.answered_at = Status.in_progress, None, None
    complaint.resolve_due_at = now + dt.timedelta(days=sla_settings(session).resolve_days)
    complaint.reopened_count += 1
    _event(session, complaint, actor, EventKind.reopened, visibility=Visibility.member, body=why,
           from_status=Status.closed, now=now)  # fmt: skip
    session.flush()
    record_event(session, actor, "complaints.reopened", target_type="complaint",
                 target_id=complaint.reference, before=before, after=_snapshot(complaint))  # fmt: skip
    return complaint


def rate(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, complaint: Complaint,
    rating: int | str | None, comment: str = "", *, now: dt.datetime | None = None,
) -> Complaint:  # fmt: skip
    """The member's satisfaction (1–5, optional comment), once, after closing. A conditional UPDATE makes a
    second submission (two taps, two tabs) fail instead of overwriting the first."""
    if complaint.member_id != member.id:
        raise NotFound(_l("Réclamation introuvable."))
    if complaint.status is not Status.closed:
        raise DomainError(_l("Vous pourrez donner votre avis une fois la réclamation clôturée."))
    try:
        value = int(str(rating or "").strip())
    except ValueError:
        raise FieldError("rating", _l("Choisissez une note de 1 à 5.")) from None
    if not 1 <= value <= 5:
        raise FieldError("rating", _l("Choisissez une note de 1 à 5."))
    words = (comment or "").strip()
    if len(words) > 500:
        raise FieldError("comment", _l("%(n)s caractères au plus.", n=500))
    now = now or utcnow()
    claimed = session.execute(
        Complaint.__table__.update()
        .where(Complaint.id == complaint.id, Complaint.rating.is_(None))
        .values(rating=value, rating_comment=words or None, rated_at=now, updated_at=now)
    ).rowcount
    if claimed != 1:
        session.refresh(complaint)
        raise DomainError(_l("Vous avez déjà donné votre avis sur cette réclamation. Merci !"))
    session.refresh(complaint)
    _event(session, complaint, actor, EventKind.rated, visibility=Visibility.member,
           body=f"{value}/5" + (f" — {words}" if words else ""), now=now)  # fmt: skip
    session.flush()
    record_event(session, actor, "complaints.rated", target_type="complaint", target_id=complaint.reference,
                 after={"rating": value, "comment": bool(words)})  # fmt: skip
    return complaint


# --- escalation --------------------------------------------------------------------------------------------


def level_node(session: Session, tenant: TenantRef, complaint: Complaint, level: int) -> Node:
    """The node answering for the complaint at ``level``: its association, the association's ligue, or the
    mutual's fédération."""
    association = association_of(session, complaint)
    if level == 0:
        return association
    if level == 1:
        parent = session.get(Node, association.parent_id) if association.parent_id else None
        if parent is not None and parent.kind is NodeKind.league:
            return parent
    return tenant_federation(session, tenant)


def _escalation_recipients(session: Session, tenant: TenantRef, node: Node) -> list[int]:
    """The staff holding ``complaints.handle`` at ``node``; if nobody does (a ligue without staff of its
    own), those of the next node up, as far as the mutual's fédération."""
    federation = tenant_federation(session, tenant)
    current: Node | None = node
    while current is not None:
        accounts = handlers_at(session, current)
        if accounts or current.id == federation.id:
            return accounts
        current = session.get(Node, current.parent_id) if current.parent_id else None
    return []


def escalate_overdue(
    session: Session, tenant: TenantRef, *, now: dt.datetime | None = None, actor: Actor | None = None
) -> list[Complaint]:
    """Move every overdue complaint up one level (0 → 1 at once; 1 → 2 if still overdue ``escalation_days``
    after the last escalation), record it, and tell the staff holding ``complaints.handle`` at that level's
    node. Running it again changes nothing until the next step is due. Returns the complaints escalated."""
    from notifications import services as notifications

    now = now or utcnow()
    actor = actor or Actor.system("escalade automatique")
    window = dt.timedelta(days=sla_settings(session).escalation_days)
    due = session.scalars(
        select(Complaint)
        .where(
            overdue_clause(now),
            Complaint.escalation_level < 2,
            or_(Complaint.escalated_at.is_(None), Complaint.escalated_at <= now - window),
        )
        .order_by(Complaint.id)
        .with_for_update(skip_locked=True)
    ).all()
    escalated = []
    for complaint in due:
        before = _snapshot(complaint)
        complaint.escalation_level += 1
        complaint.escalated_at = now
        node = level_node(session, tenant, complaint, complaint.escalation_level)
        level_label = str(LEVEL_LABELS[complaint.escalation_level])
        reason = (
            _l("pas de prise en compte dans le délai")
            if complaint.acknowledged_at is None and now > complaint.ack_due_at
            else _l("pas de réponse dans le délai")
        )
        _event(session, complaint, actor, EventKind.escalated, visibility=Visibility.internal,
               body=f"{level_label} — {node.name} ({reason})", now=now)  # fmt: skip
        session.flush()
        accounts = _escalation_recipients(session, tenant, node)
        notifications.notify_staff(
            session, actor, event="complaint.escalated", account_ids=accounts,
            context={"reference": complaint.reference, "level_label": level_label, "node_name": node.name},
        )  # fmt: skip
        record_event(
            session, actor, "complaints.escalated", target_type="complaint", target_id=complaint.reference,
            before=before, after=_snapshot(complaint), node=node.code, notified=len(accounts),
        )  # fmt: skip
        escalated.append(complaint)
    return escalated


# --- indicators --------------------------------------------------------------------------------------------


def stats(
    session: Session, association_ids: Sequence[int], start: dt.datetime, end: dt.datetime,
    *, now: dt.datetime | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Indicators over the complaints of ``association_ids`` filed in [start, end):

    - ``filed``: how many were filed;
    - ``open``: of those, not closed; ``overdue``: of those, overdue at ``now``;
    - ``resolved``: answered (or closed) ones; ``resolved_in_sla``: answered by ``resolve_due_at``;
    - ``rating_average`` (None without ratings) and ``ratings_count``; ``satisfied`` (rated 4 or 5), which
      gives the "taux de satisfaction des adhérents" as ``satisfied / ratings_count``.
    """
    now = now or utcnow()
    scope = and_(
        Complaint.association_id.in_(list(association_ids)),
        Complaint.filed_at >= start,
        Complaint.filed_at < end,
    )
    row = session.execute(
        select(
            func.count(),
            func.count().filter(Complaint.status != Status.closed),
            func.count().filter(overdue_clause(now)),
            func.count().filter(Complaint.answered_at.is_not(None)),
            func.count().filter(Complaint.answered_at <= Complaint.resolve_due_at),
            func.avg(Complaint.rating),
            func.count(Complaint.rating),
            func.count().filter(Complaint.rating >= 4),
        ).where(scope)
    ).one()
    filed, open_, overdue, resolved, in_sla, average, ratings, satisfied = row
    return {
        "filed": filed,
        "open": open_,
        "overdue": overdue,
        "resolved": resolved,
        "resolved_in_sla": in_sla,
        "rating_average": round(float(average), 2) if average is not None else None,
        "ratings_count": ratings,
        "satisfied": satisfied,
    }
