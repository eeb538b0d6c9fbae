"""The back office's complaint screens: the queue in reach, filters (htmx fragment), a complaint's page,
actions with their errors next to the field and nothing typed lost, the counter form, the SLA screen."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass

from flask import Flask
from markupsafe import escape
from sqlalchemy import select

from app.complaints import services
from app.complaints.models import Complaint, Status
from app.database import utcnow
from app.extensions import db
from app.members.models import Member
from app.security.actor import Actor
from hierarchy.models import Node
from tenants.context import tenant_scope
from tests.app.complaints.conftest import Mutual


@dataclass(frozen=True)
class Filed:
    id: int
    public_id: str
    reference: str


def filed(app: Flask, mutual: Mutual, member_id: int, *, days_ago: float = 0, text: str = "") -> Filed:
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        member = db.session.get(Member, member_id)
        complaint = services.file_complaint(
            db.session, mutual.tenant, Actor(account_id=None, label="adhérent"), member,
            category="reimbursement", text=text or "Mon remboursement n'est toujours pas arrivé.",
            now=utcnow() - dt.timedelta(days=days_ago),
        )  # fmt: skip
        done = Filed(complaint.id, complaint.public_id, complaint.reference)
        db.session.commit()
        return done


def test_the_queue_shows_the_agents_association_only_most_urgent_first(app, mutual, login):
    late = filed(app, mutual, mutual.member_a, days_ago=3)
    fresh = filed(app, mutual, mutual.member_a)
    theirs = filed(app, mutual, mutual.member_b)
    client = login(mutual.email("agent-a"))
    page = client.get(f"/{mutual.tenant.slug}/reclamations/").get_data(as_text=True)
    assert late.reference in page and fresh.reference in page and theirs.reference not in page
    assert page.index(late.reference) < page.index(fresh.reference)
    assert "En retard" in page and "Dans les délais" in page
    only_late = client.get(f"/{mutual.tenant.slug}/reclamations/?retard=oui", headers={"HX-Request": "true"})
    fragment = only_late.get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="queue"') and "<html" not in fragment
    assert late.reference in fragment and fresh.reference not in fragment
    assert client.get(f"/{mutual.tenant.slug}/reclamations/{theirs.public_id}").status_code == 404


def test_acting_on_a_complaint_without_javascript(app, mutual, login):
    complaint = filed(app, mutual, mutual.member_a)
    client = login(mutual.email("agent-a"))
    base = f"/{mutual.tenant.slug}/reclamations/{complaint.public_id}"
    page = client.get(base).get_data(as_text=True)
    assert complaint.reference in page and "Accuser réception" in page
    assert client.post(f"{base}/prise-en-compte").status_code == 303
    refused = client.post(f"{base}/reponses", data={"body": "  "})
    assert refused.status_code == 422
    assert re.search(r'class="error" id="body-error">Écrivez le message', refused.get_data(as_text=True))
    typed = "Note qui dépasse " + "x" * 4000
    kept = client.post(f"{base}/notes", data={"body": typed})
    assert kept.status_code == 422 and typed in kept.get_data(as_text=True)  # nothing typed is lost
    assert client.post(f"{base}/reponses", data={"body": "Votre dossier est réglé."}).status_code == 303
    assert client.post(f"{base}/cloture", data={"message": ""}).status_code == 303
    page = client.get(base).get_data(as_text=True)
    assert "Votre dossier est réglé." in page and "Clôturée" in page and "Envoyer la réponse" not in page
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        row = db.session.scalar(select(Complaint).where(Complaint.id == complaint.id))
        assert row.status is Status.closed and row.answered_at is not None


def test_reading_the_photo_is_audited(app, mutual, login):
    from PIL import Image
    from werkzeug.datastructures import FileStorage

    from app.audit.models import TenantAuditEvent

    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "JPEG")
    out.seek(0)
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        member = db.session.get(Member, mutual.member_a)
        complaint = services.file_complaint(
            db.session, mutual.tenant, Actor(account_id=None, label="adhérent"), member,
            category="reimbursement", text="Voici le reçu de la radio que j'ai payée.",
            photo=FileStorage(out, filename="recu.jpg", content_type="image/jpeg"),
        )  # fmt: skip
        reference, public_id = complaint.reference, complaint.public_id
        db.session.commit()
    url = f"/{mutual.tenant.slug}/reclamations/{public_id}/photo"
    photo = login(mutual.email("agent-a")).get(url)
    assert photo.status_code == 200 and photo.data.startswith(b"\xff\xd8\xff")
    assert photo.headers["Cache-Control"] == "private, no-store"
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        read = db.session.scalar(
            select(TenantAuditEvent).where(
                TenantAuditEvent.action == "read.complaint", TenantAuditEvent.target_id == reference
            )
        )
        assert read is not None and read.details["part"] == "photo"
        assert read.actor_id == mutual.accounts[mutual.email("agent-a")]


def test_htmx_actions_answer_with_the_complaint_fragment(app, mutual, login):
    complaint = filed(app, mutual, mutual.member_a)
    client = login(mutual.email("agent-a"))
    response = client.post(
        f"/{mutual.tenant.slug}/reclamations/{complaint.public_id}/notes",
        data={"body": "Appeler le prestataire."}, headers={"HX-Request": "true"},
    )  # fmt: skip
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith('<div id="complaint">')
    assert "Appeler le prestataire." in body and "<html" not in body


def test_assigning_from_the_list_of_handlers(app, mutual, login):
    complaint = filed(app, mutual, mutual.member_a)
    client = login(mutual.email("agent-a"))
    base = f"/{mutual.tenant.slug}/reclamations/{complaint.public_id}"
    page = client.get(base).get_data(as_text=True)
    ligue_id = mutual.accounts[mutual.email("ligue")]
    assert f'value="{ligue_id}"' in page
    assert f'value="{mutual.accounts[mutual.email("agent-b")]}"' not in page
    refused = client.post(
        f"{base}/attribution", data={"account": str(mutual.accounts[mutual.email("agent-b")])}
    )
    assert refused.status_code == 422
    assert client.post(f"{base}/attribution", data={"account": str(ligue_id)}).status_code == 303


def test_a_reader_sees_but_gets_no_action_forms(app, mutual, login):
    complaint = filed(app, mutual, mutual.member_a)
    client = login(mutual.email("reader-a"))
    base = f"/{mutual.tenant.slug}/reclamations/{complaint.public_id}"
    page = client.get(base).get_data(as_text=True)
    assert complaint.reference in page and "Envoyer la réponse" not in page
    assert client.post(f"{base}/reponses", data={"body": "Non."}).status_code == 403


def test_filing_at_the_counter_by_member_number(app, mutual, login):
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        number_a = db.session.get(Member, mutual.member_a).number
        number_b = db.session.get(Member, mutual.member_b).number
    client = login(mutual.email("agent-a"))
    url = f"/{mutual.tenant.slug}/reclamations/nouvelle"
    assert client.get(url).status_code == 200
    text = "Le médecin a refusé ma carte à l'hôpital régional."
    refused = client.post(url, data={"number": number_b, "category": "refused_care", "text": text})
    page = refused.get_data(as_text=True)
    assert (
        refused.status_code == 422 and "Aucun membre de votre ressort" in page and str(escape(text)) in page
    )
    done = client.post(url, data={"number": number_a.lower(), "category": "refused_care", "text": text})
    assert done.status_code == 303
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        row = db.session.scalar(select(Complaint).where(Complaint.member_id == mutual.member_a))
        assert row.channel.value == "counter" and row.filed_by_label == mutual.email("agent-a")
    assert row.public_id in done.headers["Location"]


def test_the_sla_screen_needs_configure(mutual, login):
    agent = login(mutual.email("agent-a"))
    assert agent.get(f"/{mutual.tenant.slug}/reclamations/delais").status_code == 403


def test_the_sla_screen_says_what_is_wrong_and_keeps_what_was_typed(app, mutual, login, make_staff):
    url = f"/{mutual.tenant.slug}/reclamations/delais"
    with app.app_context():
        federation = db.session.get(Node, mutual.federation_id).code
    client = login(make_staff((federation, "mutual_manager")).email)
    page = client.get(url).get_data(as_text=True)
    assert 'value="48"' in page and 'value="15"' in page
    typed = {"ack_hours": "24", "resolve_days": "500", "reopen_days": "7", "escalation_days": "3"}
    refused = client.post(url, data=typed)
    body = refused.get_data(as_text=True)
    assert (
        refused.status_code == 422
        and 'id="resolve_days-error">Entre 1 et 180' in body
        and 'value="24"' in body
    )
    assert client.post(url, data={**typed, "resolve_days": "10"}).status_code == 303
    with app.app_context(), tenant_scope(db.session, mutual.tenant):
        assert services.sla_settings(db.session) == services.SlaSettings(24, 10, 7, 3)
