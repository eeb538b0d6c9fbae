"""Member cards: signed tokens, the mutual's keys (JWKS), the public verify page and the card PDFs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.models import TenantAuditEvent
from app.database import local_today
from app.extensions import db
from app.members import cards, services
from app.members.models import CardKey, Member, MemberStatus
from app.members.services import ConsentInput, DependantInput
from app.security import crypto
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from tenants.context import tenant_scope
from tests.app.members.conftest import person
from tests.fixtures.app import SYSTEM, node

TODAY = local_today()


@dataclass(frozen=True)
class Person:
    public_id: str
    number: str
    full_name: str


@dataclass(frozen=True)
class Household:
    principal: Person
    dependants: list[Person]

    @property
    def people(self) -> list[Person]:
        return [self.principal, *self.dependants]


@contextmanager
def in_tenant(app: Flask, tenant: object) -> Iterator[Session]:
    """A context and session of their own (the web client must not share the test's session)."""
    with app.app_context(), tenant_scope(db.session, tenant):  # type: ignore[arg-type]
        yield db.session


def new_member(session: Session, world: object, *, dependants: int = 0, **overrides: str) -> Member:
    """An adhérent (consent given: active) with ``dependants`` children, committed. Random test names may
    look alike (duplicate checks are tested elsewhere), so they never stop the enrolment here."""
    member = services.enrol(
        session, world.alpha, SYSTEM, person=person(**overrides), association_id=node("ASS-A").id,  # type: ignore[attr-defined]
        sector="artisanat", consent=ConsentInput(given_on=TODAY), allow_duplicates=True,
        dependants=tuple(DependantInput(person(birth="2015"), "child") for _ in range(dependants)),
    )  # fmt: skip
    session.commit()
    return member


def make_household(app: Flask, world: object, *, dependants: int = 0, **overrides: str) -> Household:
    """``new_member`` in a context of its own, as plain values (for tests using the web client)."""
    with in_tenant(app, world.alpha) as session:  # type: ignore[attr-defined]
        principal = new_member(session, world, dependants=dependants, **overrides)
        as_person = [Person(m.public_id, m.number, m.full_name) for m in services.household_of(principal)]
        return Household(as_person[0], as_person[1:])


def unique_phone() -> str:
    """A mobile number no other test uses (duplicate checks match on phones)."""
    return f"77{uuid.uuid4().int % 10**7:07d}"


def events(app: Flask, world: object, action: str, target_id: str | None = None) -> list[TenantAuditEvent]:
    with in_tenant(app, world.alpha) as session:  # type: ignore[attr-defined]
        query = select(TenantAuditEvent).where(TenantAuditEvent.action == action)
        if target_id is not None:
            query = query.where(TenantAuditEvent.target_id == target_id)
        found = list(session.scalars(query.order_by(TenantAuditEvent.id)))
        session.expunge_all()
        return found


def token_for(app: Flask, world: object, number: str, valid_until: dt.date) -> str:
    with in_tenant(app, world.alpha) as session:  # type: ignore[attr-defined]
        member = session.scalar(select(Member).where(Member.number == number))
        token = cards.card_token(session, world.alpha, member, valid_until=valid_until)  # type: ignore[attr-defined]
        session.commit()  # the key, made on first need
        return token


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _altered(token: str, part: int) -> str:
    """``token`` with one character changed in the middle of header (0), payload (1) or signature (2)."""
    parts = token.split(".")
    middle = len(parts[part]) // 2
    char = parts[part][middle]
    parts[part] = parts[part][:middle] + ("A" if char != "A" else "B") + parts[part][middle + 1 :]
    return ".".join(parts)


@pytest.fixture(autouse=True)
def generous_rate(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The verify page's rate limit counts per address, and every test comes from 127.0.0.1."""
    monkeypatch.setitem(app.config, "MBOLO_VERIFY_RATE", "1000 per minute")


@pytest.fixture
def plain_pdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """PDF page streams left uncompressed, so the printed text can be found in the bytes."""
    monkeypatch.setattr(cards, "PDF_COMPRESSION", False)


# --- tokens ------------------------------------------------------------------------------------------------


def test_token_round_trip_carries_no_personal_data(alpha, world):
    member = new_member(alpha, world, first_names="Aïssatou", phone=unique_phone())
    until = TODAY + dt.timedelta(days=30)
    token = cards.card_token(alpha, world.alpha, member, valid_until=until)
    check = cards.verify_token(alpha, world.alpha, token)
    assert check.valid and check.reason == "ok"
    assert (check.number, check.valid_until) == (member.number, until)
    header, payload = (json.loads(_b64(p)) for p in token.split(".")[:2])
    assert header == {"alg": "EdDSA", "kid": cards.active_keys(alpha)[0].kid}
    assert set(payload) == {"iss", "sub", "iat", "exp"} and payload["iss"] == "alpha"
    assert member.last_name.lower() not in token.lower() and len(token) < 260


def test_the_private_key_is_sealed_to_its_mutual_and_key_id(alpha, world):
    cards.card_token(alpha, world.alpha, new_member(alpha, world), valid_until=TODAY)
    key = alpha.scalar(select(CardKey).where(CardKey.retired_at.is_(None)).order_by(CardKey.id.desc()))
    assert "PRIVATE" not in key.private_key_ciphertext and key.public_key_pem.startswith("-----BEGIN PUBLIC")
    assert len(crypto.decrypt(key.private_key_ciphertext, aad=f"card-key:alpha:{key.kid}".encode())) == 32
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(key.private_key_ciphertext, aad=f"card-key:beta:{key.kid}".encode())


@pytest.mark.parametrize("part", [0, 1, 2])
def test_one_changed_character_makes_the_token_invalid(alpha, world, part):
    member = new_member(alpha, world)
    token = cards.card_token(alpha, world.alpha, member, valid_until=TODAY + dt.timedelta(days=30))
    check = cards.verify_token(alpha, world.alpha, _altered(token, part))
    assert not check.valid and check.number is None
    assert check.reason in {"malformed", "bad_signature", "unknown_key", "wrong_tenant"}
    assert cards.check_card(alpha, world.alpha, _altered(token, part)).outcome == "invalid"


def test_other_algorithms_and_garbage_are_refused(alpha, world):
    token = cards.card_token(alpha, world.alpha, new_member(alpha, world), valid_until=TODAY)
    _header, payload, signature = token.split(".")
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none","kid":"x"}').rstrip(b"=").decode()
    for bad in (f"{none_alg}.{payload}.", f"{none_alg}.{payload}.{signature}", "abc", "a.b.c", "x" * 700):
        assert cards.verify_token(alpha, world.alpha, bad).reason == "malformed"


def test_an_expired_token_is_not_valid(alpha, world):
    member = new_member(alpha, world)
    token = cards.card_token(alpha, world.alpha, member, valid_until=TODAY - dt.timedelta(days=1))
    check = cards.verify_token(alpha, world.alpha, token)
    assert (check.valid, check.reason, check.number) == (False, "expired", member.number)
    assert cards.check_card(alpha, world.alpha, token).outcome == "expired"
    # valid through its last day, to midnight
    today_token = cards.card_token(alpha, world.alpha, member, valid_until=TODAY)
    assert cards.verify_token(alpha, world.alpha, today_token).valid
    tomorrow = dt.datetime.combine(TODAY + dt.timedelta(days=1), dt.time(0, 0, 1), tzinfo=dt.UTC)
    assert cards.verify_token(alpha, world.alpha, today_token, now=tomorrow).reason == "expired"


def test_a_token_of_alpha_is_refused_by_beta(app, world):
    household = make_household(app, world)
    token = token_for(app, world, household.principal.number, TODAY + dt.timedelta(days=30))
    with in_tenant(app, world.beta) as session:
        assert cards.verify_token(session, world.beta, token).reason == "wrong_tenant"
        assert cards.check_card(session, world.beta, token).outcome == "invalid"


def test_a_retired_key_verifies_nothing(alpha, world):
    member = new_member(alpha, world)
    token = cards.card_token(alpha, world.alpha, member, valid_until=TODAY + dt.timedelta(days=9))
    cards.rotate_key(alpha, world.alpha, SYSTEM)
    assert cards.verify_token(alpha, world.alpha, token).valid  # a planned rotation keeps old cards
    newer = cards.card_token(alpha, world.alpha, member, valid_until=TODAY + dt.timedelta(days=9))
    assert json.loads(_b64(newer.split(".")[0]))["kid"] != json.loads(_b64(token.split(".")[0]))["kid"]
    cards.rotate_key(alpha, world.alpha, SYSTEM, revoke_previous=True)
    assert cards.verify_token(alpha, world.alpha, token).reason == "unknown_key"
    assert cards.verify_token(alpha, world.alpha, newer).reason == "unknown_key"
    alpha.rollback()


def test_private_keys_follow_the_encryption_key_rotation(alpha, world):
    cards.rotate_key(alpha, world.alpha, SYSTEM)
    new_ring = [("k-next", bytes(range(32))), *current_app.config["MBOLO_ENCRYPTION_KEYS"]]
    assert cards.reencrypt_keys(alpha, world.alpha, SYSTEM, keys=new_ring) >= 1
    for row in cards.active_keys(alpha):
        assert row.private_key_ciphertext.startswith("k-next:")
        crypto.decrypt(row.private_key_ciphertext, aad=f"card-key:alpha:{row.kid}".encode(), keys=new_ring)
    assert cards.reencrypt_keys(alpha, world.alpha, SYSTEM, keys=new_ring) == 0
    alpha.rollback()


def test_months_are_calendar_months():
    assert cards.add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert cards.add_months(dt.date(2026, 11, 23), 12) == dt.date(2027, 11, 23)
    assert cards.add_months(dt.date(2026, 12, 5), 3) == dt.date(2027, 3, 5)


def test_names_are_printable_with_core_fonts():
    assert cards.latin1("Cœur Ndèye Aïssatou Ça") == "Coeur Ndèye Aïssatou Ça"
    assert cards.latin1("Ṣeydi “Bàmba” – Ŵ") == 'Seydi "Bàmba" - W'


# --- offline verification ----------------------------------------------------------------------------------


def test_jwks_lets_a_provider_verify_offline(app, client, world):
    household = make_household(app, world)
    token = token_for(app, world, household.principal.number, TODAY + dt.timedelta(days=30))
    response = client.get("/alpha/verify/cle")
    assert response.status_code == 200 and "max-age" in response.headers["Cache-Control"]
    document = response.get_json(force=True)
    kid = json.loads(_b64(token.split(".")[0]))["kid"]
    (jwk,) = [k for k in document["keys"] if k["kid"] == kid]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA") and "d" not in jwk
    # what a provider's app does, with nothing but the published key:
    header, payload, signature = token.split(".")
    Ed25519PublicKey.from_public_bytes(_b64(jwk["x"])).verify(_b64(signature), f"{header}.{payload}".encode())
    assert json.loads(_b64(payload))["sub"] == household.principal.number
    offline = cards.verify_token(None, world.alpha, token, keys=cards.keys_from_jwks(document))
    assert offline.valid and offline.number == household.principal.number
    tampered = cards.verify_token(None, world.alpha, _altered(token, 2), keys=cards.keys_from_jwks(document))
    assert not tampered.valid


def test_tokens_are_standard_jws(app, world):
    """Any JOSE library verifies a card with the JWKS entry; the kid is the key's RFC 7638 thumbprint."""
    household = make_household(app, world)
    token = token_for(app, world, household.principal.number, TODAY + dt.timedelta(days=30))
    kid = json.loads(_b64(token.split(".")[0]))["kid"]
    with in_tenant(app, world.alpha) as session:
        (jwk,) = [k for k in cards.jwks(session)["keys"] if k["kid"] == kid]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # authlib.jose is deprecated in favour of joserfc; still a JOSE check
        from authlib.jose import JsonWebKey, JsonWebSignature

        key = JsonWebKey.import_key(jwk)
        verified = JsonWebSignature(algorithms=["EdDSA"]).deserialize_compact(token, key)
    assert json.loads(verified["payload"])["sub"] == household.principal.number
    assert key.thumbprint().startswith(jwk["kid"])


# --- the verify page ---------------------------------------------------------------------------------------


def test_verify_page_shows_validity_and_name_only(app, client, world):
    phone = unique_phone()
    household = make_household(app, world, phone=phone, birth="03/04/1979")
    number = household.principal.number
    token = token_for(app, world, number, TODAY + dt.timedelta(days=30))
    response = client.get(f"/alpha/verify/{token}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "Carte valide" in page and household.principal.full_name in page
    for secret in ("1979", "03/04", phone[-7:], number, "Association A"):
        assert secret not in page
    assert 'src="/alpha/verify/' not in page  # no photo stored: no image
    (event,) = events(app, world, "members.card_verified", number)
    assert (event.outcome, event.details["result"], event.actor_label) == ("success", "valid", "anonyme")
    assert len(page.encode()) < 4000  # a 3G page


def test_verify_page_says_invalid_for_a_tampered_token(app, client, world):
    household = make_household(app, world)
    token = token_for(app, world, household.principal.number, TODAY + dt.timedelta(days=30))
    before = len(events(app, world, "members.card_verified"))
    page = client.get(f"/alpha/verify/{_altered(token, 1)}").get_data(as_text=True)
    assert "Carte invalide" in page and household.principal.full_name not in page
    page = client.get(f"/beta/verify/{token}").get_data(as_text=True)
    assert "Carte invalide" in page and household.principal.full_name not in page
    after = events(app, world, "members.card_verified")
    assert len(after) == before + 1 and after[-1].details["result"] == "invalid"  # beta's is in beta's log
    assert after[-1].outcome == "refused"


def test_verify_page_for_an_expired_card_or_a_member_not_covered(app, client, world):
    household = make_household(app, world, dependants=1)
    principal, child = household.principal, household.dependants[0]
    expired = token_for(app, world, principal.number, TODAY - dt.timedelta(days=3))
    assert "Carte expirée" in client.get(f"/alpha/verify/{expired}").get_data(as_text=True)
    token = token_for(app, world, child.number, TODAY + dt.timedelta(days=30))
    with in_tenant(app, world.alpha) as session:
        member = session.scalar(select(Member).where(Member.number == child.number))
        services.change_status(session, world.alpha, SYSTEM, member, "suspended", "Cotisations impayées")
        session.commit()
    page = client.get(f"/alpha/verify/{token}").get_data(as_text=True)
    assert "non couvert" in page and "Carte valide" not in page


def test_verify_page_is_rate_limited(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "MBOLO_VERIFY_RATE", "2 per minute")
    statuses = [client.get("/alpha/verify/a.b.c").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


# --- PDFs --------------------------------------------------------------------------------------------------


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def test_card_pdf_for_one_person(app, client, login, world, plain_pdf):
    household = make_household(app, world, first_names="Ndèye Œil")
    login("manager.a@test.sn")
    response = client.get(f"/alpha/adherents/{household.principal.public_id}/carte.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.data
    assert pdf.startswith(b"%PDF") and _pages(pdf) == 1
    assert household.principal.number.encode() in pdf
    assert "Ndèye OEil".encode("latin-1") in pdf and b"Adh\xe9rent" in pdf
    assert b"/Subtype /Image" in pdf  # the QR code
    assert re.search(rb"/MediaBox \[0 0 242\.6\d* 153\.0\d*\]", pdf)  # ID-1: 85.6 x 54 mm
    (event,) = events(app, world, "members.card_printed", household.principal.number)
    assert event.details["layout"] == "card" and event.actor_label.startswith("manager.a")


def test_the_qr_code_points_to_the_verify_page(app, world):
    household = make_household(app, world)
    with in_tenant(app, world.alpha) as session:
        member = session.scalar(select(Member).where(Member.number == household.principal.number))
        (face,) = cards.card_faces(
            session, world.alpha, [member], link=lambda t: f"https://m.sn/alpha/verify/{t}"
        )
        assert face.valid_until == cards.add_months(TODAY, 12)
        assert cards.verify_token(session, world.alpha, face.link.rsplit("/", 1)[1]).number == member.number


def test_household_cards_on_one_sheet(app, client, login, world, plain_pdf):
    household = make_household(app, world, dependants=2)
    login("manager.a@test.sn")
    response = client.get(f"/alpha/adherents/{household.dependants[0].public_id}/cartes-foyer.pdf")
    assert response.status_code == 200
    assert _pages(response.data) == 1
    assert all(p.number.encode() in response.data for p in household.people)
    assert b"/MediaBox [0 0 595.28 841.89]" in response.data  # A4
    (event,) = events(app, world, "members.card_printed", None)[-1:]
    assert event.details["numbers"] == [p.number for p in household.people]


def test_association_sheets_ten_cards_a_page(app, client, login, world, plain_pdf, monkeypatch):
    for _ in range(3):
        make_household(app, world, dependants=3)
    monkeypatch.setattr(cards, "BATCH_SIZE", 12)
    with in_tenant(app, world.alpha) as session:
        covered = session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.association_id == node("ASS-A").id, Member.status.in_(cards.CARD_STATUSES))
        )
        association, federation = node("ASS-A").id, node("FED-A").id
    login("manager.a@test.sn")
    first = client.get(f"/alpha/adherents/cartes.pdf?association={association}&page=1")
    assert first.status_code == 200 and _pages(first.data) == 2  # 12 cards: 10 + 2
    assert len(re.findall(rb"[A-Z]{2,5}-\d{6}-\d{2}-[0-9A-Z]", first.data)) == 12
    last_page = -(-covered // 12)
    assert (
        client.get(f"/alpha/adherents/cartes.pdf?association={association}&page={last_page}").status_code
        == 200
    )
    for query in (f"association={association}&page={last_page + 1}", f"association={association}&page=0",
                  "association=abc", f"association={federation}", ""):  # fmt: skip
        assert client.get(f"/alpha/adherents/cartes.pdf?{query}").status_code == 404, query
    listing = client.get("/alpha/adherents/cartes").get_data(as_text=True)
    assert "Association A" in listing and f"page={last_page}" in listing


def test_no_card_for_a_member_who_left(app, client, login, world):
    household = make_household(app, world)
    with in_tenant(app, world.alpha) as session:
        member = session.scalar(select(Member).where(Member.number == household.principal.number))
        services.change_status(session, world.alpha, SYSTEM, member, "left", "Départ")
        session.commit()
        assert member.status is MemberStatus.left
    login("manager.a@test.sn")
    assert client.get(f"/alpha/adherents/{household.principal.public_id}/carte.pdf").status_code == 404


@pytest.fixture
def other_agent(app: Flask, make_staff) -> str:
    return make_other_agent(app, make_staff)


def make_other_agent(app: Flask, make_staff) -> str:
    """An agent of another association of the same mutual (ASS-Z, under LIG-A): ASS-A is out of reach."""
    with app.app_context():
        if hierarchy.find_node_by_code(db.session, "ASS-Z") is None:
            hierarchy.create_child(
                db.session,
                SYSTEM,
                parent=node("LIG-A"),
                code="ASS-Z",
                details=NodeDetails(name="Association Z"),
            )
            db.session.commit()
    return make_staff(("ASS-Z", "association_agent"), mfa_enrolled=False).email


def test_staff_get_cards_only_within_their_scope(app, client, login, world, other_agent):
    household = make_household(app, world)
    with app.app_context():
        association = f"/alpha/adherents/cartes.pdf?association={node('ASS-A').id}"
    login(other_agent)
    pid = household.principal.public_id
    for path in ("carte.pdf", "cartes-foyer.pdf", "photo.jpg", "mes-donnees.json", "mes-donnees.pdf"):
        assert client.get(f"/alpha/adherents/{pid}/{path}").status_code == 404, path
    assert client.get(association).status_code == 403
    listing = client.get("/alpha/adherents/cartes").get_data(as_text=True)
    assert "Association Z" in listing and "Association A" not in listing
    login("manager.b@test.sn")  # another mutual altogether
    assert client.get(f"/alpha/adherents/{pid}/carte.pdf").status_code == 403
