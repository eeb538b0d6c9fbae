"""The member's complaints in the portal: only their own, filing with errors next to the fields and nothing
typed lost, a photo, replies shown but never internal notes, rating once after closing, reopening."""

from __future__ import annotations

import io
import uuid

from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from PIL import Image
from sqlalchemy import select

from app.complaints import services
from app.complaints.models import Complaint
from app.extensions import db
from app.security.actor import Actor
from tenants.context import tenant_scope

STAFF = Actor.system("agent de test")


def member(enrolled):  # type: ignore[no-untyped-def]
    """A member with a phone (the sign-in code goes by SMS)."""
    return enrolled(phone=f"77{uuid.uuid4().int % 10**7:07d}")


def staff(app: Flask, world, public_id: str, action: str, *args: object) -> None:
    """A staff action through the service (the back office's own tests cover its screens)."""
    with app.app_context(), tenant_scope(db.session, world.alpha):
        complaint = db.session.scalar(select(Complaint).where(Complaint.public_id == public_id))
        getattr(services, action)(db.session, world.alpha, STAFF, complaint, *args)
        db.session.commit()


def file_one(client: FlaskClient, text: str = "Le pharmacien a refusé mon ordonnance ce matin.") -> str:
    response = client.post(
        "/alpha/portail/reclamations/nouvelle", data={"category": "refused_care", "text": text}
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def test_strangers_are_sent_to_the_sign_in_page(client):
    for path in ("", "nouvelle", "abc"):
        response = client.get(f"/alpha/portail/reclamations/{path}")
        assert response.status_code == 302 and "/alpha/portail/connexion" in response.headers["Location"]


def test_filing_a_complaint_keeps_what_was_typed_on_an_error(enrolled, portal_sign_in):
    client = portal_sign_in(member(enrolled))
    assert "Faire une réclamation" in client.get("/alpha/portail/reclamations/").get_data(as_text=True)
    text = "Accueil très long, trois heures d'attente"
    refused = client.post("/alpha/portail/reclamations/nouvelle", data={"category": "", "text": text})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="category-error">Choisissez une catégorie' in page and str(escape(text)) in page
    public_id = file_one(client)
    detail = client.get(f"/alpha/portail/reclamations/{public_id}").get_data(as_text=True)
    assert "REC-" in detail and "Reçue" in detail and "Réclamation déposée" in detail


def test_a_photo_can_be_attached_and_is_shown_to_its_owner_only(enrolled, portal_sign_in):
    client, stranger = portal_sign_in(member(enrolled)), portal_sign_in(member(enrolled))
    data = io.BytesIO()
    Image.new("RGB", (60, 40), "blue").save(data, "PNG")
    data.seek(0)
    response = client.post(
        "/alpha/portail/reclamations/nouvelle",
        data={"category": "reimbursement", "text": "Voici le reçu de la pharmacie, non remboursé.",
              "photo": (data, "recu.png", "image/png")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 303
    public_id = response.headers["Location"].rsplit("/", 1)[1]
    photo = client.get(f"/alpha/portail/reclamations/{public_id}/photo")
    assert photo.status_code == 200 and photo.data.startswith(b"\xff\xd8\xff")  # re-encoded as JPEG
    assert stranger.get(f"/alpha/portail/reclamations/{public_id}/photo").status_code == 404


def test_a_member_sees_only_their_own_complaints(enrolled, portal_sign_in):
    me, them = portal_sign_in(member(enrolled)), portal_sign_in(member(enrolled))
    their_complaint = file_one(them)
    assert their_complaint not in me.get("/alpha/portail/reclamations/").get_data(as_text=True)
    assert me.get(f"/alpha/portail/reclamations/{their_complaint}").status_code == 404
    assert (
        me.post(f"/alpha/portail/reclamations/{their_complaint}/avis", data={"rating": "1"}).status_code
        == 404
    )


def test_replies_show_internal_notes_never_and_rating_happens_once(app, world, enrolled, portal_sign_in):
    client = portal_sign_in(member(enrolled))
    public_id = file_one(client)
    staff(app, world, public_id, "add_note", "Membre déjà venu trois fois : vérifier son dossier.")
    staff(app, world, public_id, "reply", "La pharmacie vous servira demain avec cette ordonnance.")
    page = client.get(f"/alpha/portail/reclamations/{public_id}").get_data(as_text=True)
    assert "La pharmacie vous servira demain" in page and "vérifier son dossier" not in page
    assert "Donner mon avis" not in page  # not closed yet
    staff(app, world, public_id, "close", "")
    page = client.get(f"/alpha/portail/reclamations/{public_id}").get_data(as_text=True)
    assert "Donner mon avis" in page
    wrong = client.post(
        f"/alpha/portail/reclamations/{public_id}/avis", data={"rating": "9", "comment": "Bien"}
    )
    assert wrong.status_code == 422 and "Choisissez une note de 1 à 5" in wrong.get_data(as_text=True)
    ok = client.post(
        f"/alpha/portail/reclamations/{public_id}/avis", data={"rating": "4", "comment": "Merci"}
    )
    assert ok.status_code == 303
    again = client.post(
        f"/alpha/portail/reclamations/{public_id}/avis", data={"rating": "1"}, follow_redirects=True
    )
    assert "déjà donné votre avis" in again.get_data(as_text=True)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        row = db.session.scalar(select(Complaint).where(Complaint.public_id == public_id))
        assert row.rating == 4 and row.rating_comment == "Merci"


def test_the_member_can_reopen_a_closed_complaint(app, world, enrolled, portal_sign_in):
    client = portal_sign_in(member(enrolled))
    public_id = file_one(client)
    staff(app, world, public_id, "close", "Réglé avec le centre de santé.")
    page = client.get(f"/alpha/portail/reclamations/{public_id}").get_data(as_text=True)
    assert "Réglé avec le centre de santé." in page and "rouvrir" in page
    refused = client.post(f"/alpha/portail/reclamations/{public_id}/reouverture", data={"reason": "non"})
    assert refused.status_code == 422
    done = client.post(
        f"/alpha/portail/reclamations/{public_id}/reouverture",
        data={"reason": "Le centre me refuse toujours la prise en charge."},
    )
    assert done.status_code == 303
    page = client.get(f"/alpha/portail/reclamations/{public_id}").get_data(as_text=True)
    assert "En cours de traitement" in page and "Rouverte" in page
