"""What tells a member: rights opened or suspended (from the rights engine), a payment at the counter."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.coverage.models import RightsEvent
from notifications.models import OutboxMessage
from notifications.triggers import rights_changed


def _event(member, covered: bool, reason: str = "covered", details: str = "") -> RightsEvent:
    return RightsEvent(
        member_id=member.id,
        effective_on=dt.date(2026, 11, 1),
        covered=covered,
        reason=reason,
        details=details,
    )


def _events(session, member) -> list[str]:
    return list(
        session.scalars(
            select(OutboxMessage.event)
            .where(OutboxMessage.member_id == member.id, OutboxMessage.channel == "portal")
            .order_by(OutboxMessage.id)
        )
    )


def test_rights_opened_and_suspended_are_told_once_each(alpha_session, make_member):
    member = make_member(phone="+221770202020")
    first = _event(member, False, "waiting_period", "Période d'attente jusqu'au 01/12/2026.")
    assert rights_changed(alpha_session, [first], {}) == 0  # never covered yet: nothing is "suspended"
    opened = _event(member, True)
    assert rights_changed(alpha_session, [opened], {member.id: first}) == 1
    arrears = _event(member, False, "arrears", "Cotisation impayée depuis le 01/10/2026.")
    assert rights_changed(alpha_session, [arrears], {member.id: opened}) == 1
    other_reason = _event(member, False, "member_status", "Adhérent suspendu.")
    assert rights_changed(alpha_session, [other_reason], {member.id: arrears}) == 0  # still suspended
    assert _events(alpha_session, member) == ["rights.opened", "rights.suspended"]
    sms = alpha_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.member_id == member.id, OutboxMessage.event == "rights.suspended",
            OutboxMessage.channel == "sms",
        )
    )  # fmt: skip
    assert "Cotisation impayée depuis le 01/10/2026." in sms.body


def test_a_cash_payment_at_the_counter_tells_the_household(alpha_session, world, make_member):
    from app.contributions.payments import record_payment
    from tests.fixtures.app import SYSTEM

    member = make_member(phone="+221770303030")
    payment = record_payment(alpha_session, world.alpha, SYSTEM, member, amount=1500)
    sms = alpha_session.scalar(
        select(OutboxMessage).where(OutboxMessage.member_id == member.id, OutboxMessage.channel == "sms",
                                    OutboxMessage.event == "payment.received")
    )  # fmt: skip
    assert (
        sms.recipient == "+221770303030" and "1 500 F CFA" in sms.body and payment.receipt_number in sms.body
    )
    online = record_payment(alpha_session, world.alpha, SYSTEM, member, amount=700, external_ref="online:x1")
    assert online.receipt_number  # online payments are announced by the payments package, not twice here
    bodies = alpha_session.scalars(
        select(OutboxMessage.body).where(OutboxMessage.member_id == member.id, OutboxMessage.channel == "sms")
    ).all()
    assert not any(online.receipt_number in body for body in bodies)


def test_an_online_payment_credited_tells_the_member_once(alpha_session, world, make_member):
    from payments import service
    from payments.models import OnlinePayment, OnlineStatus

    member = make_member(phone="+221770505050")
    online = OnlinePayment(
        member_id=member.id, provider="sandbox", amount=4200, currency="XOF", status=OnlineStatus.succeeded,
        refunded_amount=0, flagged=False, started_by_label="test",
    )  # fmt: skip
    alpha_session.add(online)
    alpha_session.flush()
    received = service.credit(alpha_session, world.alpha, online)
    service.credit(alpha_session, world.alpha, online)  # a redelivered event: no second message
    sms = alpha_session.scalars(
        select(OutboxMessage).where(OutboxMessage.member_id == member.id, OutboxMessage.channel == "sms",
                                    OutboxMessage.event == "payment.received")
    ).all()  # fmt: skip
    assert len(sms) == 1 and "4 200 F CFA" in sms[0].body and received.receipt_number in sms[0].body
