"""A task queued for tenant A runs in A's context and writes into A only (real broker, real worker)."""

from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from app.extensions import db
from app.worker import init_celery
from notifications import services
from notifications.models import MessageStatus, OutboxMessage
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM


def _status(app, tenant, public_id):
    with app.app_context(), tenant_scope(db.session, tenant):
        return db.session.scalar(select(OutboxMessage.status).where(OutboxMessage.public_id == public_id))


def test_task_for_tenant_a_writes_into_a_only(app, world):
    celery = init_celery(app)  # one Celery app per process: other tests may have bound it to their own app
    celery.control.purge()  # earlier tests' messages (reports, imports…): this test waits for its own only
    with app.app_context(), tenant_scope(db.session, world.alpha):
        message = services.queue_message(
            db.session, world.alpha, SYSTEM, channel="sms", recipient="+221770000001", body="Bienvenue"
        )
        public_id = message.public_id
        db.session.commit()  # the task is sent only now, with alpha in its headers
    with app.app_context(), tenant_scope(db.session, world.beta):
        twin = services.queue_message(
            db.session, world.beta, SYSTEM, channel="sms", recipient="+221770000002", body="Pas pour alpha"
        )
        beta_id = twin.public_id
        db.session.rollback()  # never committed: its task must never be sent
    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        import time

        deadline = time.monotonic() + 30
        while _status(app, world.alpha, public_id) is not MessageStatus.delivered:
            assert time.monotonic() < deadline, "the worker did not deliver alpha's message"
            time.sleep(0.2)
    assert _status(app, world.beta, public_id) is None  # nothing written in beta
    assert _status(app, world.beta, beta_id) is None  # rolled back: no row, no task
