"""notify / notify_staff / preferences: what goes to which channel, in which language."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.audit.models import TenantAuditEvent
from app.errors import FieldError
from app.extensions import db
from notifications import services
from notifications.models import MessageStatus, OutboxMessage, StaffMessage
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM


def test_notify_sends_sms_and_portal_by_default_in_french(alpha_session, world, make_member):
    member = make_member(phone="+221771112233")
    messages = services.notify(
        alpha_session, world.alpha, SYSTEM, event="payment.received", member=member,
        context={"amount": 12500, "receipt_number": "R-2026-0000123"},
    )  # fmt: skip
    assert sorted(m.channel for m in messages) == ["portal", "sms"]
    sms = next(m for m in messages if m.channel == "sms")
    assert sms.recipient == "+221771112233" and sms.status is MessageStatus.queued
    assert sms.body.startswith("Paiement recu : 12 500 F CFA") and "R-2026-0000123" in sms.body
    portal = next(m for m in messages if m.channel == "portal")
    assert portal.status is MessageStatus.delivered and "Nous avons bien reçu" in portal.body
    assert services.portal_messages(alpha_session, member) == [portal]
    assert portal.event == "payment.received" and portal.member_id == member.id and portal.locale == "fr"


def test_preferences_choose_language_and_channels(alpha_session, world, make_member):
    member = make_member(phone="+221771112234")
    services.set_preferences(
        alpha_session, world.alpha, SYSTEM, member,
        locale="en", email="awa@example.sn", email_enabled=True, sms_enabled=False,
    )  # fmt: skip
    messages = services.notify(
        alpha_session, world.alpha, SYSTEM, event="rights.opened", member=member,
        context={"reason": "Your contributions are up to date."},
    )  # fmt: skip
    assert sorted(m.channel for m in messages) == ["email", "portal"]
    email = next(m for m in messages if m.channel == "email")
    assert email.recipient == "awa@example.sn" and email.subject == "Your rights are open"
    assert email.locale == "en"
    changed = alpha_session.scalar(
        select(TenantAuditEvent).where(TenantAuditEvent.action == "notifications.preferences_changed")
        .order_by(TenantAuditEvent.id.desc())
    )  # fmt: skip
    assert changed.details["after"]["locale"] == "en"


def test_sign_in_code_always_goes_by_sms_to_the_household_head(alpha_session, world, make_member):
    head = make_member(phone="+221771112235")
    services.set_preferences(
        alpha_session, world.alpha, SYSTEM, head, sms_enabled=False, portal_enabled=False
    )
    messages = services.notify(
        alpha_session, world.alpha, SYSTEM, event="portal.sign_in_code", member=head,
        context={"code": "482913", "minutes": 10},
    )  # fmt: skip
    assert [(m.channel, m.recipient) for m in messages] == [("sms", "+221771112235")]
    assert "482913" in messages[0].body
    silent = services.notify(
        alpha_session, world.alpha, SYSTEM, event="due.reminder", member=head,
        context={"amount": 1000, "due_on": "2026-12-01"},
    )  # fmt: skip
    assert silent == []


def test_sign_in_code_without_any_phone_is_refused(alpha_session, world, make_member):
    member = make_member(phone="")
    with pytest.raises(FieldError):
        services.notify(
            alpha_session, world.alpha, SYSTEM, event="portal.sign_in_code", member=member,
            context={"code": "1", "minutes": 10},
        )  # fmt: skip


def test_email_preference_needs_a_valid_address(alpha_session, world, make_member):
    member = make_member()
    with pytest.raises(FieldError) as refused:
        services.set_preferences(alpha_session, world.alpha, SYSTEM, member, email_enabled=True)
    assert refused.value.field == "email"
    with pytest.raises(FieldError):
        services.set_preferences(alpha_session, world.alpha, SYSTEM, member, email="pas-une-adresse")
    with pytest.raises(FieldError):
        services.set_preferences(alpha_session, world.alpha, SYSTEM, member, locale="de")


def test_notify_staff_from_inside_a_tenant_context(app, world):
    from app.security.models import Account

    with app.app_context():
        manager = db.session.scalar(select(Account).where(Account.email == "manager.a@test.sn"))
        manager_id = manager.id
        with tenant_scope(db.session, world.alpha):
            count = services.notify_staff(
                db.session, SYSTEM, event="complaint.escalated", account_ids=[manager_id, manager_id],
                context={"reference": "REC-2026-000001", "level_label": "ligue", "node_name": "Ligue A"},
            )  # fmt: skip
            assert count == 1
            db.session.commit()  # the tenant role may insert into public.staff_messages
        message = db.session.scalars(
            select(StaffMessage).where(StaffMessage.account_id == manager_id).order_by(StaffMessage.id.desc())
        ).first()
        assert message.channel == "email" and message.recipient == "manager.a@test.sn"
        assert message.tenant_id == world.alpha.id and "REC-2026-000001" in (message.subject or "")


def test_outbox_row_written_in_the_callers_transaction(app, world, make_member, alpha_session):
    member = make_member(phone="+221771112236")
    services.notify(
        alpha_session, world.alpha, SYSTEM, event="portal.welcome", member=member, context={},
    )  # fmt: skip
    alpha_session.rollback()
    assert alpha_session.scalar(select(OutboxMessage).where(OutboxMessage.member_id == member.id)) is None


def test_mark_read_marks_only_the_members_own_unread_portal_messages(alpha_session, world, make_member):
    awa, moussa = make_member(phone="+221771112240"), make_member(phone="+221771112241")
    context = {"amount": 5000, "receipt_number": "R-2026-0000999"}
    mine = services.notify(alpha_session, world.alpha, SYSTEM, event="payment.received", member=awa,
                           context=context)  # fmt: skip
    theirs = services.notify(alpha_session, world.alpha, SYSTEM, event="payment.received", member=moussa,
                             context=context)  # fmt: skip
    ids = [m.public_id for m in mine + theirs]  # someone else's and an SMS are named too: neither moves
    assert services.mark_read(alpha_session, awa, ids) == 1
    assert [m.read_at is not None for m in services.portal_messages(alpha_session, awa)] == [True]
    assert all(m.read_at is None for m in services.portal_messages(alpha_session, moussa))
    assert services.mark_read(alpha_session, awa, ids) == 0  # already read: unchanged
    assert services.mark_read(alpha_session, awa, []) == 0
