"""Budgets for 3G: fingerprinted, immutable, compressed assets; compressed pages; no staff stylesheet."""

from __future__ import annotations

import re

from portal import assets


def test_assets_are_fingerprinted_and_cached_for_a_year(client):
    page = client.get("/alpha/portail/connexion").get_data(as_text=True)
    css = re.search(r'href="(/alpha/portail/a/([0-9a-f]{12})/portal\.css)"', page)
    assert css is not None and css.group(2) == assets.fingerprint("portal.css")
    response = client.get(css.group(1), headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in response.headers["Vary"]
    again = client.get(
        css.group(1), headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 200 and again.headers["Content-Encoding"] == "gzip"  # another encoding
    same = client.get(
        css.group(1), headers={"Accept-Encoding": "br", "If-None-Match": response.headers["ETag"]}
    )
    assert same.status_code == 304


def test_a_stale_fingerprint_still_answers_but_is_not_cached(client):
    response = client.get("/alpha/portail/a/000000000000/portal.css")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-cache"
    assert client.get("/alpha/portail/a/000000000000/secret.py").status_code == 404


def test_htmx_comes_from_its_package_and_only_once_signed_in(client, app, make_household, portal_sign_in):
    sign_in_page = client.get("/alpha/portail/connexion").get_data(as_text=True)
    assert "htmx" not in sign_in_page  # the sign-in page needs no script
    household = make_household()
    member = portal_sign_in(household.principal)
    page = member.get("/alpha/portail/").get_data(as_text=True)
    src = re.search(r'src="(/alpha/portail/a/[0-9a-f]{12}/htmx\.min\.js)"', page)
    assert src is not None
    script = member.get(src.group(1), headers={"Accept-Encoding": "identity"})
    assert script.data == (assets.HTMX_DIR / "htmx.min.js").read_bytes()


def test_pages_are_compressed(client):
    response = client.get("/alpha/portail/connexion", headers={"Accept-Encoding": "gzip"})
    assert response.headers.get("Content-Encoding") == "gzip"
    staff = client.get("/connexion", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in staff.headers  # the staff site is left as it was
