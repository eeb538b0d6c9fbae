"""The SMS gateway's delivery receipts: signed with the shared secret, recent, and never moving a message
backwards."""

from __future__ import annotations

import json
import time
import uuid

from sqlalchemy import select

from app.extensions import db
from app.worker import TENANT_HEADER, init_celery
from notifications import services
from notifications.models import MessageStatus, OutboxMessage
from notifications.receipts import HEADER, sign
from notifications.tasks import deliver_message
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM
from tests.notifications.fakes import gateway

SECRET = "receipt-secret-for-tests"


def _sent_message(app, world, settings) -> tuple[str, str]:
    """A message sent through the fake gateway: (public id, the gateway's id)."""
    init_celery(app)
    with gateway(prefix=uuid.uuid4().hex[:8]) as fake:
        settings(MBOLO_SMS_GATEWAY_URL=fake.url, MBOLO_SMS_RECEIPT_SECRET=SECRET)
        with app.app_context(), tenant_scope(db.session, world.alpha):
            message = services.queue_message(
                db.session, world.alpha, SYSTEM, channel="sms", recipient="+221770009988", body="Test"
            )
            db.session.commit()
            public_id = message.public_id
        assert deliver_message.apply((public_id,), headers={TENANT_HEADER: "alpha"}).get() == "sent"
    return public_id, f"{fake.prefix}-1"


def _status(app, world, public_id) -> tuple[MessageStatus, str | None]:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.public_id == public_id))
        return message.status, message.last_error


def _post(client, body: dict, *, secret=SECRET, stamp=None, scope="alpha"):
    raw = json.dumps(body).encode()
    return client.post(
        f"/notifications/sms/accuse/{scope}", data=raw, content_type="application/json",
        headers={HEADER: sign(raw, secret, stamp)},
    )  # fmt: skip


def test_a_signed_receipt_marks_the_message_delivered(app, world, client, settings):
    public_id, ident = _sent_message(app, world, settings)
    answer = _post(client, {"id": ident, "status": "DELIVRD"})
    assert answer.status_code == 200 and answer.json == {"status": "delivered"}
    assert _status(app, world, public_id)[0] is MessageStatus.delivered
    late = _post(client, {"id": ident, "status": "failed", "error": "late"})  # never backwards
    assert late.status_code == 200 and _status(app, world, public_id)[0] is MessageStatus.delivered


def test_a_failure_receipt_keeps_the_gateways_error(app, world, client, settings):
    public_id, ident = _sent_message(app, world, settings)
    assert (
        _post(client, {"id": ident, "status": "undelivered", "error": "absent subscriber"}).status_code == 200
    )
    assert _status(app, world, public_id) == (MessageStatus.failed, "absent subscriber")


def test_bad_signatures_old_receipts_and_unknown_messages_are_refused(app, world, client, settings):
    public_id, ident = _sent_message(app, world, settings)
    assert _post(client, {"id": ident, "status": "delivered"}, secret="wrong").status_code == 401
    assert (
        _post(client, {"id": ident, "status": "delivered"}, stamp=int(time.time()) - 3600).status_code == 401
    )
    unsigned = client.post(
        "/notifications/sms/accuse/alpha", data=json.dumps({"id": ident, "status": "delivered"}),
        content_type="application/json",
    )  # fmt: skip
    assert unsigned.status_code == 401
    assert _post(client, {"id": ident, "status": "delivered"}, scope="beta").status_code == 404  # not beta's
    assert _post(client, {"id": ident, "status": "delivered"}, scope="nowhere").status_code == 404
    assert _status(app, world, public_id)[0] is MessageStatus.sent
    settings(MBOLO_SMS_RECEIPT_SECRET="")
    assert _post(client, {"id": ident, "status": "delivered"}).status_code == 403  # receipts not enabled
