"""FHIR R4 Claim in, ClaimResponse out: a Claim becomes an invoice checked at once; each item's adjudication
and reasons come back; the same Claim identifier twice creates nothing; bad Claims get an OperationOutcome;
any invoice's ClaimResponse by number."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from fhir.resources.R4B.claimresponse import ClaimResponse
from sqlalchemy import func, select

from app.api import services as api_services
from app.care.claims_models import CareInvoice
from app.extensions import db
from tests.app.care.test_invoices import Care
from tests.app.care.test_invoices_views import care, in_alpha  # noqa: F401 - the fixture, used by name
from tests.fixtures.app import SYSTEM

URL = "/api/v1/alpha/fhir"


def bearer(app: Any, email: str = "manager.a@test.sn") -> Any:
    with app.app_context():
        issued = api_services.create_client(
            db.session, SYSTEM, name=f"t-{uuid.uuid4().hex[:8]}", account_email=email
        )
        db.session.commit()
        basic = base64.b64encode(f"{issued.client.client_id}:{issued.secret}".encode()).decode()
    token = app.test_client().post(
        "/api/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    headers = {"Authorization": f"Bearer {token.json['access_token']}"}

    def call(method: str, path: str, **kwargs: Any) -> Any:
        return app.test_client().open(path, method=method, headers=headers, **kwargs)

    return call


def claim(care: Care, identifier: str, items: list[tuple[str, int, int, str]]) -> dict[str, Any]:  # noqa: F811
    return {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:test", "value": identifier}],
        "status": "active",
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]
        },
        "use": "claim",
        "patient": {"identifier": {"value": care.principal.number}},
        "created": "2027-04-01",
        "provider": {"identifier": {"value": care.provider.code}},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Mutuelle"}}],
        "careTeam": [{"sequence": 1, "provider": {"display": "Dr Ba"}}],
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": {"text": "Paludisme simple"}}],
        "item": [
            {
                "sequence": index,
                "productOrService": {"coding": [{"code": care.benefits[code].code}]},
                "servicedDate": day,
                "quantity": {"value": quantity},
                "unitPrice": {"value": price, "currency": "XOF"},
            }
            for index, (code, quantity, price, day) in enumerate(items, start=1)
        ],
    }


def adjudication(item: dict[str, Any], category: str) -> dict[str, Any]:
    return next(a for a in item["adjudication"] if a["category"]["coding"][0]["code"] == category)


def test_claim_in_claim_response_out(app: Any, world: Any, care: Care) -> None:  # noqa: F811 - the fixture imported above
    call = bearer(app)
    body = claim(
        care,
        "PS-FACT-0001",
        [("CONS", 1, 3500, "2027-03-05"), ("OPT", 1, 30000, "2027-03-05"), ("HOSP", 2, 15000, "2027-03-06")],
    )
    created = call("POST", f"{URL}/Claim", json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.mimetype == "application/fhir+json"
    answer = ClaimResponse.model_validate(created.json)  # a valid R4 ClaimResponse
    assert answer.outcome == "partial"  # lines await the médecin-conseil
    consult, glasses, hosp = created.json["item"]
    assert adjudication(consult, "submitted")["amount"]["value"] == 3500
    assert adjudication(consult, "eligible")["amount"]["value"] == 3000
    benefit = adjudication(consult, "benefit")
    assert (
        benefit["amount"]["value"] == 2400 and benefit["reason"]["coding"][0]["code"] == "price_above_agreed"
    )
    assert benefit["reason"]["coding"][0]["display"].startswith("Prix demandé supérieur")
    assert adjudication(consult, "copay")["amount"]["value"] == 600
    assert adjudication(glasses, "benefit")["reason"]["coding"][0]["code"] == "benefit_not_covered"
    assert adjudication(hosp, "benefit")["amount"]["value"] == 20000  # 24000 cut by the yearly ceiling
    totals = {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in created.json["total"]}
    assert totals == {"submitted": 63500, "benefit": 22400, "copay": 10600 + 30000}
    number = created.json["identifier"][0]["value"]
    assert created.headers["Location"].endswith(f"/fhir/ClaimResponse/{number}")

    again = call("POST", f"{URL}/Claim", json=body)  # the same Claim identifier: nothing new
    assert again.status_code == 200 and again.json["identifier"][0]["value"] == number
    with in_alpha(app, world) as session:
        assert session.scalar(select(func.count(CareInvoice.id)).where(CareInvoice.number == number)) == 1
        invoice = session.scalar(select(CareInvoice).where(CareInvoice.number == number))
        assert (str(invoice.source), invoice.external_ref, len(invoice.records)) == ("api", "PS-FACT-0001", 2)
        assert invoice.records[0].prescriber == "Dr Ba" and invoice.records[0].diagnosis == "Paludisme simple"

    fetched = call("GET", f"{URL}/ClaimResponse/{number}")
    assert fetched.status_code == 200 and fetched.json["item"] == created.json["item"]
    assert call("GET", f"{URL}/ClaimResponse/FAC-1999-000001").status_code == 404


def test_bad_claims_get_an_operation_outcome(app: Any, world: Any, care: Care) -> None:  # noqa: F811 - the fixture imported above
    call = bearer(app)
    broken = call("POST", f"{URL}/Claim", json={"resourceType": "Claim", "status": "active"})
    assert broken.status_code == 400 and broken.json["resourceType"] == "OperationOutcome"
    unknown_act = claim(care, "X-2", [("CONS", 1, 3000, "2027-03-05")])
    unknown_act["item"][0]["productOrService"]["coding"][0]["code"] = "NOPE"
    refused = call("POST", f"{URL}/Claim", json=unknown_act)
    assert refused.status_code == 422 and "inconnu du catalogue" in refused.json["issue"][0]["diagnostics"]
    future = call("POST", f"{URL}/Claim", json=claim(care, "X-3", [("CONS", 1, 3000, "2027-06-05")]))
    assert future.status_code == 422 and "futur" in future.json["issue"][0]["diagnostics"]
    with in_alpha(app, world) as session:
        assert (
            session.scalar(select(func.count(CareInvoice.id)).where(CareInvoice.external_ref.like("X-%")))
            == 0
        )
    assert app.test_client().post(f"{URL}/Claim", json=unknown_act).status_code == 401
