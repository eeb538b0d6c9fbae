"""The outbox screen per mutual and the staff-messages screen: permissions, filters, detail, send again."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import TenantAuditEvent
from app.extensions import db
from notifications import services
from notifications.models import MessageStatus, OutboxMessage, StaffMessage
from tenants.context import tenant_scope
from tests.fixtures.app import PASSWORD, SYSTEM


def _messages(app, world) -> tuple[str, str]:
    """A failed SMS and a delivered e-mail in alpha's outbox: (failed id, delivered id)."""
    with app.app_context(), tenant_scope(db.session, world.alpha):
        failed = services.queue_message(
            db.session, world.alpha, SYSTEM, channel="sms", recipient="+221770101010", body="Échec ici"
        )
        failed.status, failed.last_error, failed.attempts = MessageStatus.failed, "SMS gateway: HTTP 503", 5
        done = services.queue_message(
            db.session, world.alpha, SYSTEM, channel="email", recipient="ok@exemple.sn", body="Remis ici",
            event="portal.welcome", subject="Bienvenue",
        )  # fmt: skip
        done.status = MessageStatus.delivered
        db.session.commit()
        return failed.public_id, done.public_id


def test_outbox_lists_filters_and_shows_a_message(app, world, login):
    failed_id, done_id = _messages(app, world)
    client = login("manager.a@test.sn")
    page = client.get("/alpha/boite-envoi/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "+221770101010" in text and "ok@exemple.sn" in text
    only_failed = client.get("/alpha/boite-envoi/?status=failed&channel=sms").get_data(as_text=True)
    assert "+221770101010" in only_failed and "ok@exemple.sn" not in only_failed
    by_event = client.get("/alpha/boite-envoi/?event=portal.welcome").get_data(as_text=True)
    assert "ok@exemple.sn" in by_event and "+221770101010" not in by_event
    detail = client.get(f"/alpha/boite-envoi/{failed_id}").get_data(as_text=True)
    assert "SMS gateway: HTTP 503" in detail and "Renvoyer" in detail
    with app.app_context(), tenant_scope(db.session, world.alpha):
        assert (
            db.session.scalar(
                select(TenantAuditEvent).where(
                    TenantAuditEvent.action == "read.outbox_message", TenantAuditEvent.target_id == failed_id
                )
            )
            is not None
        )


def test_staff_send_a_failed_message_again(app, world, login):
    failed_id, done_id = _messages(app, world)
    client = login("manager.a@test.sn")
    assert client.post(f"/alpha/boite-envoi/{failed_id}/renvoyer").status_code == 302
    refused = client.post(f"/alpha/boite-envoi/{done_id}/renvoyer")
    assert refused.status_code == 422 and "Seul un message en échec" in refused.get_data(as_text=True)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        again = db.session.scalar(select(OutboxMessage).where(OutboxMessage.public_id == failed_id))
        assert again.status is MessageStatus.queued and again.attempts == 0
        done = db.session.scalar(select(OutboxMessage).where(OutboxMessage.public_id == done_id))
        assert done.status is MessageStatus.delivered


def test_reading_and_resending_need_their_permissions_on_that_mutual(app, world, login, client):
    failed_id, _done = _messages(app, world)
    supervisor = login("sup.a@test.sn")  # read-only on FED-A
    assert supervisor.get("/alpha/boite-envoi/").status_code == 200
    assert "Renvoyer" not in supervisor.get(f"/alpha/boite-envoi/{failed_id}").get_data(as_text=True)
    assert supervisor.post(f"/alpha/boite-envoi/{failed_id}/renvoyer").status_code == 403
    supervisor.get("/deconnexion")
    other = app.test_client()
    other.post("/connexion", data={"login": "manager.b@test.sn", "password": PASSWORD})
    assert other.get("/alpha/boite-envoi/").status_code == 403  # another fédération's mutual


def test_staff_messages_screen_all_for_admins_own_for_others(app, world, login):
    from app.security.models import Account

    with app.app_context():
        ids = {
            email: db.session.scalar(select(Account.id).where(Account.email == email))
            for email in ("manager.a@test.sn", "sup.a@test.sn")
        }
        services.notify_staff(
            db.session, SYSTEM, event="care.ceiling_near", account_ids=ids.values(),
            context={"member_number": "ART-000001-00-X", "benefit_label": "Consultation",
                     "remaining": "1 000"},
        )  # fmt: skip
        db.session.commit()
        sup_message = db.session.scalar(
            select(StaffMessage.public_id).where(StaffMessage.account_id == ids["sup.a@test.sn"])
            .order_by(StaffMessage.id.desc())
        )  # fmt: skip
    admin = app.test_client()
    admin.post("/connexion", data={"login": "admin@test.sn", "password": PASSWORD})
    everything = admin.get("/admin/messages-personnel/").get_data(as_text=True)
    assert "manager.a@test.sn" in everything and "sup.a@test.sn" in everything
    manager = login("manager.a@test.sn")
    own = manager.get("/admin/messages-personnel/").get_data(as_text=True)
    assert "manager.a@test.sn" in own and "sup.a@test.sn" not in own
    assert manager.get(f"/admin/messages-personnel/{sup_message}").status_code == 404
    assert admin.get(f"/admin/messages-personnel/{sup_message}").status_code == 200
