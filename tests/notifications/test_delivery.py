"""Delivery: the embedded outbox, one send per message whatever the redeliveries, retries with exponential
backoff against a failing fake gateway (real worker, real broker), the maximum number of attempts, SMTP."""

from __future__ import annotations

import datetime as dt
import threading
import time

from celery.contrib.testing.worker import start_worker
from sqlalchemy import select, update

from app.audit.models import AuditEvent, TenantAuditEvent
from app.database import utcnow
from app.extensions import db
from app.worker import TENANT_HEADER, init_celery
from notifications import services
from notifications.models import MessageStatus, OutboxMessage, StaffMessage
from notifications.tasks import deliver_message, deliver_staff_message
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM
from tests.notifications.fakes import gateway, smtp_server


def _queue(app, world, *, channel="sms", recipient="+221770001122", body="Bonjour") -> str:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        message = services.queue_message(
            db.session, world.alpha, SYSTEM, channel=channel, recipient=recipient, body=body
        )
        db.session.commit()
        return message.public_id


def _message(app, world, public_id) -> OutboxMessage:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.public_id == public_id))
        db.session.expunge(message)
        return message


def _run(public_id: str, slug: str = "alpha") -> object:
    return deliver_message.apply((public_id,), headers={TENANT_HEADER: slug}).get()


def _actions(app, world, public_id) -> list[str]:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        return list(
            db.session.scalars(
                select(TenantAuditEvent.action)
                .where(TenantAuditEvent.target_id == public_id)
                .order_by(TenantAuditEvent.id)
            )
        )


def test_embedded_default_delivers_to_the_outbox(app, world, settings):
    settings(MBOLO_SMS_GATEWAY_URL="", MBOLO_SMTP_HOST="")
    init_celery(app)
    public_id = _queue(app, world)
    assert _run(public_id) == "delivered"
    message = _message(app, world, public_id)
    assert message.status is MessageStatus.delivered and message.provider == "outbox"
    assert message.attempts == 1 and message.delivered_at is not None
    assert _actions(app, world, public_id) == ["notifications.queued", "notifications.delivered"]


def test_a_message_is_sent_once_however_often_its_task_runs(app, world, settings):
    init_celery(app)
    with gateway() as fake:
        settings(MBOLO_SMS_GATEWAY_URL=fake.url + "/send")
        public_id = _queue(app, world)
        assert _run(public_id) == "sent"
        assert _run(public_id) == "skipped"  # redelivered task: the claim finds it no longer queued
        assert _run(public_id) == "skipped"
        assert len(fake.for_reference(public_id)) == 1
    message = _message(app, world, public_id)
    assert message.status is MessageStatus.sent and message.provider_message_id == "gw-1"
    assert message.attempts == 1


def test_two_workers_claiming_at_once_only_one_wins(app, world):
    public_id = _queue(app, world)
    barrier, results = threading.Barrier(4), []

    def worker() -> None:
        with app.app_context(), tenant_scope(db.session, world.alpha):
            barrier.wait()
            results.append(services.claim(db.session, OutboxMessage, public_id))
            db.session.commit()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == [False, False, False, True]
    assert _message(app, world, public_id).attempts == 1


def _wait(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the worker did not finish in time"
        time.sleep(0.1)


def test_transient_failures_are_retried_with_exponential_backoff(app, world, settings):
    celery = init_celery(app)
    celery.control.purge()
    with gateway(failures=[(503, {"message": "busy"}), (503, {"message": "still busy"})]) as fake:
        settings(
            MBOLO_SMS_GATEWAY_URL=fake.url + "/send", MBOLO_NOTIFY_BACKOFF_SECONDS=0.4,
            MBOLO_NOTIFY_MAX_ATTEMPTS=5,
        )  # fmt: skip
        public_id = _queue(app, world)
        with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            _wait(lambda: _message(app, world, public_id).status is MessageStatus.sent)
        seen = fake.for_reference(public_id)
        stamps = fake.times(public_id)
    assert len(seen) == 3
    assert stamps[1] - stamps[0] >= 0.35 and stamps[2] - stamps[1] >= 0.75  # 0.4 s, then 0.8 s
    message = _message(app, world, public_id)
    assert message.attempts == 3 and message.provider_message_id == "gw-1"
    assert message.last_error and "still busy" in message.last_error  # kept for the record
    actions = _actions(app, world, public_id)
    assert actions.count("notifications.retry_scheduled") == 2 and actions[-1] == "notifications.sent"


def test_after_the_maximum_attempts_the_message_fails_with_its_last_error(app, world, settings):
    celery = init_celery(app)
    celery.control.purge()
    with gateway(failures=[(503, {"message": f"down {n}"}) for n in range(1, 10)]) as fake:
        settings(
            MBOLO_SMS_GATEWAY_URL=fake.url + "/send", MBOLO_NOTIFY_BACKOFF_SECONDS=0.1,
            MBOLO_NOTIFY_MAX_ATTEMPTS=3,
        )  # fmt: skip
        public_id = _queue(app, world)
        with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            _wait(lambda: _message(app, world, public_id).status is MessageStatus.failed)
            time.sleep(0.5)  # no further attempt comes
        assert len(fake.for_reference(public_id)) == 3
    message = _message(app, world, public_id)
    assert message.attempts == 3 and "down 3" in message.last_error and message.next_attempt_at is None
    assert _actions(app, world, public_id)[-1] == "notifications.failed"


def test_a_refused_message_fails_at_once_and_staff_can_send_it_again(app, world, settings):
    init_celery(app)
    with gateway(failures=[(400, {"message": "invalid number"})]) as fake:
        settings(MBOLO_SMS_GATEWAY_URL=fake.url + "/send")
        public_id = _queue(app, world)
        assert _run(public_id) == "failed"
        message = _message(app, world, public_id)
        assert message.attempts == 1 and "invalid number" in message.last_error
        with app.app_context(), tenant_scope(db.session, world.alpha):
            row = services.get_message(db.session, OutboxMessage, public_id)
            services.retry_message(db.session, SYSTEM, row)
            db.session.commit()
        assert _run(public_id) == "sent"
        assert len(fake.for_reference(public_id)) == 2


def test_a_message_left_sending_by_a_killed_worker_is_failed_not_sent_again(app, world):
    public_id = _queue(app, world)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert services.claim(db.session, OutboxMessage, public_id)
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.public_id == public_id)
            .values(claimed_at=utcnow() - dt.timedelta(hours=1))
        )
        assert services.fail_interrupted(db.session, OutboxMessage) >= 1
        db.session.commit()
    message = _message(app, world, public_id)
    assert message.status is MessageStatus.failed and "interrompu" in message.last_error
    assert _run(public_id) == "skipped"


def test_staff_messages_go_by_smtp_outside_any_tenant(app, world, settings):
    from app.security.models import Account

    init_celery(app)
    with smtp_server() as (mailbox, port):
        settings(MBOLO_SMTP_HOST="127.0.0.1", MBOLO_SMTP_PORT=port, MBOLO_SMTP_SECURITY="none")
        with app.app_context():
            manager = db.session.scalar(select(Account).where(Account.email == "manager.a@test.sn"))
            with tenant_scope(db.session, world.alpha):  # queued from inside a mutual's work
                services.notify_staff(
                    db.session, SYSTEM, event="supervision.alert", account_ids=[manager.id],
                    context={"title": "Recouvrement bas", "node_name": "Ligue A", "detail": "42 %"},
                )  # fmt: skip
                db.session.commit()
            public_id = db.session.scalar(
                select(StaffMessage.public_id).order_by(StaffMessage.id.desc()).limit(1)
            )
        # the task carries alpha's header (queued there) and still works on public.staff_messages
        assert deliver_staff_message.apply((public_id,), headers={TENANT_HEADER: "alpha"}).get() == "sent"
    (envelope,) = mailbox.messages
    assert envelope.rcpt_tos == ["manager.a@test.sn"] and b"Recouvrement bas" in envelope.content
    with app.app_context():
        message = db.session.scalar(select(StaffMessage).where(StaffMessage.public_id == public_id))
        assert message.status is MessageStatus.sent and message.attempts == 1
        assert (
            db.session.scalar(
                select(AuditEvent.action)
                .where(AuditEvent.target_id == public_id)
                .order_by(AuditEvent.id.desc())
            )
            == "notifications.sent"
        )


def test_a_sign_in_code_handed_to_the_gateway_is_masked_in_the_outbox(app, world, settings, make_member):
    init_celery(app)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        from app.members.models import Member

        member = db.session.get(Member, make_member(phone="+221770404040").id)
        (message,) = services.notify(
            db.session, world.alpha, SYSTEM, event="portal.sign_in_code", member=member,
            context={"code": "731904", "minutes": 10},
        )  # fmt: skip
        db.session.commit()
        public_id = message.public_id
    with gateway() as fake:
        settings(MBOLO_SMS_GATEWAY_URL=fake.url)
        assert _run(public_id) == "sent"
        assert "731904" in fake.for_reference(public_id)[0].json()["text"]
    assert "731904" not in _message(app, world, public_id).body


def test_the_sweep_sends_again_queued_messages_whose_retry_was_lost(app, world):
    public_id = _queue(app, world)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert public_id not in services.due_for_retry(
            db.session, OutboxMessage
        )  # just queued: its task runs
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.public_id == public_id)
            .values(
                created_at=utcnow() - dt.timedelta(hours=1),
                next_attempt_at=utcnow() - dt.timedelta(minutes=1),
            )
        )
        assert public_id in services.due_for_retry(db.session, OutboxMessage)
        db.session.rollback()
