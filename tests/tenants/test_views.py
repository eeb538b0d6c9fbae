from app.extensions import db
from tenants.models import TenantStatus
from tenants.services import change_status, find_tenant, get_tenant
from tests.fixtures.app import SYSTEM
from tests.fixtures.security import step_up


def get_tenant_or_none(app, slug):
    with app.app_context():
        return find_tenant(db.session, slug)


def test_admin_creates_a_tenant_from_the_screen_after_a_step_up(app, login, make_staff, create_federation):
    code = create_federation().code
    admin = make_staff(platform_admin=True)
    client = login(admin.email)
    data = {"slug": "peche", "name": "Mutuelle de la pêche", "sector": "peche", "federation": code}
    asked = client.post("/admin/mutuelles/nouvelle", data=data)
    assert get_tenant_or_none(app, "peche") is None  # nothing happens before the confirmation
    token = step_up(client, asked, admin.next_code())
    response = client.post("/admin/mutuelles/nouvelle", data={**data, "_stepup": token})
    assert response.status_code == 302 and response.location.endswith("/peche/")
    assert "Mutuelle de la pêche" in client.get("/peche/").get_data(as_text=True)


def test_bad_slug_is_shown_next_to_the_field_and_typed_values_are_kept(login, create_federation):
    code = create_federation().code
    client = login("admin@test.sn")
    page = client.post(
        "/admin/mutuelles/nouvelle",
        data={"slug": "Bad Slug!", "name": "Mutuelle gardée", "sector": "commerce", "federation": code},
    ).get_data(as_text=True)
    assert 'id="slug-error"' in page and "2 à 30 caractères" in page
    assert 'value="Mutuelle gardée"' in page and 'value="Bad Slug!"' in page


def test_suspended_tenant_answers_with_a_clear_page(app, login, create_mutual):
    client = login("admin@test.sn")
    create_mutual("pause")
    with app.app_context():
        change_status(db.session, SYSTEM, get_tenant(db.session, "pause"), TenantStatus.suspended, "audit")
        db.session.commit()
    response = client.get("/pause/")
    assert response.status_code == 503
    assert "momentanément suspendue" in response.get_data(as_text=True)


def test_unknown_tenant_is_a_404_and_a_supervisor_cannot_open_another_federations_tenant(login, world):
    client = login("sup.a@test.sn")
    assert client.get("/nosuchtenant/").status_code == 404
    assert client.get("/alpha/").status_code == 200
    assert client.get("/beta/").status_code == 403


def test_tenant_resolved_by_host(app, world, database_url):
    from app import create_app
    from tests.fixtures.database import app_overrides

    hosted = create_app({**app_overrides(database_url), "MBOLO_TENANT_HOSTS": {"alpha.example.sn": "alpha"}})
    client = hosted.test_client()
    client.post(
        "/connexion",
        data={"login": "admin@test.sn", "password": "correct horse battery staple"},
        headers={"Host": "alpha.example.sn"},
    )
    page = client.get("/", headers={"Host": "alpha.example.sn"})
    assert page.status_code == 200 and "Mutuelle Alpha" in page.get_data(as_text=True)


def test_message_sent_from_a_tenant_lands_in_its_outbox_only(app, login, world):
    from sqlalchemy import select

    from notifications.models import OutboxMessage
    from tenants.context import tenant_scope

    client = login("admin@test.sn")
    response = client.post(
        "/alpha/messages",
        data={"channel": "sms", "recipient": "+221771234567", "body": "Votre carte est prête"},
    )
    assert response.status_code == 302
    with app.app_context():
        with tenant_scope(db.session, world.alpha):
            assert (
                db.session.scalar(select(OutboxMessage).where(OutboxMessage.body == "Votre carte est prête"))
                is not None
            )
        with tenant_scope(db.session, world.beta):
            assert (
                db.session.scalar(select(OutboxMessage).where(OutboxMessage.body == "Votre carte est prête"))
                is None
            )


def test_sending_a_message_needs_the_send_permission_on_that_mutual(login, world):
    supervisor = login("sup.a@test.sn")  # read-only on FED-A
    refused = supervisor.post("/alpha/messages", data={"channel": "sms", "recipient": "+221", "body": "x"})
    assert refused.status_code == 403
    assert "Envoyer" not in supervisor.get("/alpha/").get_data(as_text=True)
