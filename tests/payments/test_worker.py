"""A worker killed between the webhook's arrival and the allocation: the event waits in the broker (tasks are
acknowledged late) and a restarted worker allocates it, once (a second processing of the same row changes
nothing: tests/payments/test_service.py)."""

from __future__ import annotations

import json
import time
import uuid

from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select

from app.contributions.models import Payment
from app.extensions import db
from app.worker import init_celery
from payments import service
from payments.models import PaymentInbox
from payments.providers.sandbox import SIGNATURE_HEADER, sign
from tenants.context import tenant_scope
from tests.app.contributions.test_payments import add_due, make_household, principal_of
from tests.fixtures.app import SYSTEM


def _credits(app, world, public_id):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        return db.session.scalar(
            select(func.count()).select_from(Payment).where(Payment.external_ref == f"online:{public_id}")
        )


def _wait(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the worker did not process the event in time"
        time.sleep(0.2)


def test_an_event_received_while_no_worker_runs_is_allocated_once_after_restart(app, world):
    celery = init_celery(app)  # one Celery app per process: other tests may have bound it to their own app
    celery.control.purge()  # earlier tests' messages: this test waits for its own event only
    with app.app_context(), app.test_request_context("/"), tenant_scope(db.session, world.alpha):
        household = make_household(db.session, world)
        add_due(db.session, household, 1, amount=2000)
        payment = service.start_payment(
            db.session, world.alpha, SYSTEM, principal_of(db.session, household), 2000, "sandbox"
        )
        db.session.commit()
        body = json.dumps(
            {"event_id": uuid.uuid4().hex, "ref": payment.provider_ref, "status": "succeeded",
             "amount": 2000, "currency": "XOF"}
        ).encode()  # fmt: skip
        row = service.receive_webhook(
            db.session, world.alpha, "sandbox", body, {SIGNATURE_HEADER: sign(body)}
        )
        db.session.commit()  # the inbox row is safe and the task message sent: then the worker "dies"
        public_id, inbox_id = payment.public_id, row.id
    assert _credits(app, world, public_id) == 0

    with start_worker(celery, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        _wait(lambda: _credits(app, world, public_id) == 1)
    assert _credits(app, world, public_id) == 1
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert db.session.get(PaymentInbox, inbox_id).processed_at is not None
