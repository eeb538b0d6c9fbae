"""Notifications caused by other modules' changes, kept here so each module needs one call only.

``rights_changed`` is called by ``app.coverage.rights`` with the rights events it just wrote and each
person's previous event: coverage that opens (first time, or after a suspension) sends ``rights.opened``;
coverage that stops after being open sends ``rights.suspended``; other changes (a new reason while still not
covered) send nothing, so a member is not told twice that their rights are suspended."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask_babel import force_locale
from sqlalchemy.orm import Session

from app.coverage.models import RightsEvent
from app.members.models import Member
from app.security.actor import Actor
from tenants.context import current_tenant_of

WORKER = Actor.system("droits")


def _reason(session: Session, member: Member, event: RightsEvent, locale: str) -> str:
    """The event's reasons in the member's language (stored in French in the history)."""
    if locale == "fr" or not event.details:
        return event.details
    from app.coverage.rights import rights_on

    tenant = current_tenant_of(session)
    assert tenant is not None
    with force_locale(locale):
        rights = rights_on(session, tenant, member, event.effective_on)
        return " ; ".join(str(r.message) for r in rights.reasons if not r.warning) or event.details


def rights_changed(
    session: Session, events: Iterable[RightsEvent], previous: Mapping[int, RightsEvent | None]
) -> int:
    """Notify the beneficiaries whose coverage opened or stopped; returns the number notified."""
    from notifications.services import get_preferences, notify

    tenant = current_tenant_of(session)
    if tenant is None:
        return 0
    notified = 0
    for event in events:
        before = previous.get(event.member_id)
        if event.covered and (before is None or not before.covered):
            kind = "rights.opened"
        elif not event.covered and before is not None and before.covered:
            kind = "rights.suspended"
        else:
            continue
        member = session.get(Member, event.member_id)
        if member is None:
            continue
        locale = get_preferences(session, member).locale
        reason = _reason(session, member, event, locale)
        notify(session, tenant, WORKER, event=kind, member=member, context={"reason": reason})
        notified += 1
    return notified
