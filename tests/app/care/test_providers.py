"""The provider register and the counter through the web: the manager creates a provider and a convention;
provider staff see only their own provider (another's pages answer 404, its checks are refused); the
counter page checks by QR URL; the FHIR R4 CoverageEligibilityRequest answers a valid response."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from sqlalchemy import select

from app.api import services as api_services
from app.care.models import CareProvider, EligibilityCheck, ProviderUser
from app.extensions import db
from app.members import cards
from app.security.models import Account
from tenants.context import tenant_scope
from tests.app.care.test_eligibility import TODAY, setup_care, tag
from tests.fixtures.app import SYSTEM

D = dt.date
MANAGER = "manager.a@test.sn"


@pytest.fixture
def care(app: Any, world: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Committed: two providers, a covered member and a card token for them."""
    monkeypatch.setitem(app.config, "MBOLO_TODAY", TODAY)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        made = setup_care(db.session, world)
        token = cards.card_token(db.session, world.alpha, made["member"], valid_until=D(2027, 12, 31))
        db.session.commit()
        return {"number": made["member"].number, "member_id": made["member"].id, "token": token,
                "a": (made["a"].id, made["a"].public_id),
                "b": (made["b"].id, made["b"].public_id)}  # fmt: skip


@pytest.fixture
def staff_a(app: Any, world: Any, make_staff: Any, care: dict[str, Any]) -> str:
    staff = make_staff(("FED-A", "provider_staff"))
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).where(Account.email == staff.email))
        with tenant_scope(db.session, world.alpha):
            db.session.add(ProviderUser(provider_id=care["a"][0], account_id=account_id))
            db.session.commit()
    return staff.email


def test_manager_creates_a_provider_and_a_convention(login: Any, app: Any, world: Any) -> None:
    client = login(MANAGER)
    code = f"HOP-{tag()}"
    bad = client.post("/alpha/prestataires/nouveau", data={"code": code, "name": "", "kind": "hospital",
                                                         "status": "active",
                                                         "payout_method": "wave"})  # fmt: skip
    assert bad.status_code == 200 and "Indiquez le nom du prestataire." in bad.get_data(as_text=True)
    assert code in bad.get_data(as_text=True)  # nothing typed is lost
    created = client.post("/alpha/prestataires/nouveau", data={
        "code": code, "name": "Hôpital de Pikine", "kind": "hospital", "region": "Dakar", "commune": "Pikine",
        "status": "active", "payout_method": "wave", "phone": "77 123 45 67"})  # fmt: skip
    assert created.status_code == 302
    page = client.get(created.headers["Location"])
    assert "Hôpital de Pikine" in page.get_data(as_text=True)
    public_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    convention = client.post(f"/alpha/prestataires/{public_id}/conventions/nouvelle", data={
        "reference": "CONV-PIK", "starts_on": "2030-01-01", "pricing": "negotiated",
        "reference_rate_pct": "100",
        "payment_delay_days": "45"})  # fmt: skip
    assert convention.status_code == 302
    upload = client.post(
        convention.headers["Location"] + "/liste-de-prix",
        data={"file": (__import__("io").BytesIO(b"code;prix\nNOPE;100\n"), "prix.csv")},
        content_type="multipart/form-data",
    )
    text = upload.get_data(as_text=True)
    assert upload.status_code == 200 and "code inconnu du catalogue" in text


def test_provider_staff_see_only_their_provider(login: Any, staff_a: str, care: dict[str, Any]) -> None:
    client = login(staff_a)
    # the register is the mutual's (care.read): staff work in their space (counter, letters)
    assert client.get(f"/alpha/prestataires/{care['a'][1]}").status_code == 403
    assert client.get("/alpha/lettres/").status_code == 200
    page = client.get("/alpha/guichet/", query_string={"query": f"http://localhost/alpha/verify/{care['token']}",
                                                       "provider": care["b"][1]})  # fmt: skip
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Couvert" in text  # B is not offered: checked for their own (A)
    assert "Centre B" not in text


def test_counter_records_the_check_for_the_staff_provider(
    app: Any, world: Any, login: Any, staff_a: str, care: dict[str, Any]
) -> None:
    client = login(staff_a)
    page = client.get("/alpha/guichet/", query_string={"query": care["token"]})
    assert page.status_code == 200 and care["number"] in page.get_data(as_text=True)
    bad = client.get("/alpha/guichet/", query_string={"query": "ART-999"})
    assert bad.status_code == 422 and "invalide" in bad.get_data(as_text=True)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        rows = db.session.scalars(
            select(EligibilityCheck).where(EligibilityCheck.member_id == care["member_id"])
        )
        assert {(r.provider_id, str(r.channel)) for r in rows} == {(care["a"][0], "qr")}


def test_fhir_coverage_eligibility(app: Any, world: Any, care: dict[str, Any]) -> None:
    with app.app_context():
        issued = api_services.create_client(db.session, SYSTEM, name=f"fhir-{tag()}", account_email=MANAGER)
        db.session.commit()
        basic = base64.b64encode(f"{issued.client.client_id}:{issued.secret}".encode()).decode()
    client = app.test_client()
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        headers={"Authorization": f"Basic {basic}"}).json["access_token"]  # fmt: skip
    with app.app_context(), tenant_scope(db.session, world.alpha):
        provider_code = db.session.get(CareProvider, care["a"][0]).code
    request = {
        "resourceType": "CoverageEligibilityRequest", "id": "req-1", "status": "active",
        "purpose": ["validation", "benefits"], "created": "2027-03-10",
        "patient": {"identifier": {"value": care["number"]}}, "insurer": {"display": "Mutuelle Alpha"},
        "provider": {"identifier": {"value": provider_code}}, "servicedDate": "2027-03-10",
    }  # fmt: skip
    response = client.post("/api/v1/alpha/fhir/CoverageEligibilityRequest", json=request,
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    answer = CoverageEligibilityResponse.model_validate_json(response.get_data(as_text=True))
    assert answer.outcome == "complete" and answer.patient.identifier.value == care["number"]
    [insurance] = answer.insurance
    assert insurance.inforce is True
    by_code = {i.productOrService.coding[0].display: i for i in insurance.item}
    assert by_code["Scanner"].authorizationRequired is True
    assert by_code["Consultation"].benefit[0].allowedMoney.value == 100_000
    broken = client.post("/api/v1/alpha/fhir/CoverageEligibilityRequest", json={"resourceType": "Patient"},
                         headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert broken.status_code == 400 and broken.json["resourceType"] == "OperationOutcome"
    as_json = client.post("/api/v1/alpha/care/eligibility", json={"number": care["number"]},
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert as_json.status_code == 200 and as_json.json["covered"] is True
    assert [a["name"] for a in as_json.json["prior_approval"]] == ["Scanner"]
    assert client.post("/api/v1/alpha/care/eligibility", json={"number": care["number"]}).status_code == 401


def test_counter_photo_only_for_the_checking_provider(
    app: Any, world: Any, login: Any, make_staff: Any, staff_a: str, care: dict[str, Any]
) -> None:
    import io

    from PIL import Image

    from app import media
    from app.members.models import Member

    image = io.BytesIO()
    Image.new("RGB", (40, 50), (200, 100, 50)).save(image, "JPEG")
    with app.app_context(), tenant_scope(db.session, world.alpha):
        member = db.session.get(Member, care["member_id"])
        member.photo_path = media.save_bytes(world.alpha, "photos", image.getvalue(), suffix="jpg")
        db.session.commit()
    client = login(staff_a)
    page = client.get("/alpha/guichet/", query_string={"query": care["number"]}).get_data(as_text=True)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        check_id = db.session.scalar(
            select(EligibilityCheck.id).where(EligibilityCheck.member_id == care["member_id"])
        )
    assert f"/alpha/guichet/controle/{check_id}/photo.jpg" in page
    assert client.get(f"/alpha/guichet/controle/{check_id}/photo.jpg").status_code == 200
    other = make_staff(("FED-A", "provider_staff"))
    with app.app_context():
        account_id = db.session.scalar(select(Account.id).where(Account.email == other.email))
        with tenant_scope(db.session, world.alpha):
            db.session.add(ProviderUser(provider_id=care["b"][0], account_id=account_id))
            db.session.commit()
    assert login(other.email).get(f"/alpha/guichet/controle/{check_id}/photo.jpg").status_code == 404
