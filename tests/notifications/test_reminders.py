"""Reminders before a due date: N days ahead (3 by default, or the mutual's setting), once per household and
due, never for a paid due — run by the daily Celery task."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select

from app.contributions.models import Due, DueStatus
from app.extensions import db
from app.worker import TENANT_HEADER, init_celery
from notifications import reminders
from notifications.models import OutboxMessage
from notifications.tasks import send_due_reminders
from tenants.context import tenant_scope
from tenants.models import TenantSetting
from tests.app.contributions.test_payments import make_household, principal_of

TODAY = dt.date(2031, 6, 10)  # no other test has dues in 2031


def _due(session, household, due_on: dt.date, *, amount=3000, paid=0) -> Due:
    due = Due(  # one period per day: unique per subscription and start
        subscription_id=household.subscription_id, member_id=household.principal_id,
        version_id=household.version_id, period_start=due_on, period_end=due_on,
        due_date=due_on, amount=amount, subsidy_amount=0, member_amount=amount, paid_amount=paid,
        status=DueStatus.paid if paid >= amount else DueStatus.open,
    )  # fmt: skip
    session.add(due)
    session.flush()
    return due


@pytest.fixture
def household(app, world):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        made = make_household(db.session, world)
        principal_of(db.session, made).phone = "+221775550011"
        db.session.execute(delete(Due).where(Due.due_date >= dt.date(2031, 1, 1)))  # earlier runs' dues
        db.session.commit()
        return made


def _reminders(session, due: Due) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.dedupe_key.like(f"{reminders.dedupe_key(due)}:%"))
            .order_by(OutboxMessage.channel)
        )
    )


def test_one_reminder_per_household_and_due_never_twice(app, world, household):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        soon = _due(db.session, household, TODAY + dt.timedelta(days=3), amount=3500)
        later = _due(db.session, household, TODAY + dt.timedelta(days=4))
        paid = _due(db.session, household, TODAY + dt.timedelta(days=2), paid=3000)
        db.session.commit()
        report = reminders.send_due_reminders(db.session, world.alpha, TODAY)
        assert (report.dues, report.reminded, report.messages) == (1, 1, 2)
        sms, portal = sorted(_reminders(db.session, soon), key=lambda m: m.channel != "sms")
        assert (sms.channel, sms.recipient, portal.channel) == ("sms", "+221775550011", "portal")
        assert "3 500 F CFA" in sms.body and "13/06/2031" in sms.body and sms.event == "due.reminder"
        assert _reminders(db.session, later) == [] and _reminders(db.session, paid) == []
        db.session.commit()
        again = reminders.send_due_reminders(db.session, world.alpha, TODAY)
        next_day = reminders.send_due_reminders(db.session, world.alpha, TODAY + dt.timedelta(days=1))
        assert (again.reminded, next_day.reminded) == (0, 1)  # the next day: only the due now 3 days ahead
        assert len(_reminders(db.session, soon)) == 2 and len(_reminders(db.session, later)) == 2
        db.session.commit()


def test_the_mutuals_setting_changes_how_many_days_ahead(app, world, household):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        far = _due(db.session, household, TODAY + dt.timedelta(days=9))
        db.session.add(TenantSetting(key=reminders.SETTING_KEY, value=10))
        db.session.commit()
        try:
            assert reminders.reminder_days(db.session) == 10
            assert reminders.send_due_reminders(db.session, world.alpha, TODAY).reminded == 1
            assert len(_reminders(db.session, far)) == 2
        finally:
            db.session.rollback()
            db.session.execute(delete(TenantSetting).where(TenantSetting.key == reminders.SETTING_KEY))
            db.session.commit()


def test_the_daily_task_runs_per_mutual_and_commits(app, world, household):
    init_celery(app)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        due = _due(db.session, household, TODAY + dt.timedelta(days=1))
        db.session.commit()
        due_id = due.id
    result = send_due_reminders.apply((TODAY.isoformat(),), headers={TENANT_HEADER: "alpha"}).get()
    assert result["reminded"] == 1
    assert (
        send_due_reminders.apply((TODAY.isoformat(),), headers={TENANT_HEADER: "alpha"}).get()["reminded"]
        == 0
    )
    with app.app_context(), tenant_scope(db.session, world.alpha):
        count = db.session.scalar(
            select(func.count()).select_from(OutboxMessage)
            .where(OutboxMessage.dedupe_key.like(f"due.reminder:{due_id}:%"))
        )  # fmt: skip
        assert count == 2
