"""The portal is mounted per tenant, its pages need a portal session, its assets are fingerprinted."""

from __future__ import annotations


def test_pages_send_a_stranger_to_the_sign_in_page(client):
    for path in ("", "droits", "foyer", "carte", "cotisations", "dossiers", "mes-donnees"):
        response = client.get(f"/alpha/portail/{path}")
        assert response.status_code == 302, path
        assert "/alpha/portail/connexion" in response.headers["Location"]


def test_the_sign_in_page_is_open_and_light(client):
    response = client.get("/alpha/portail/connexion")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "/static/css/mbolo.css" not in page  # the staff stylesheet is not loaded
    assert "/alpha/portail/a/" in page
