"""Eligibility through the API: ``POST /api/v1/<slug>/care/eligibility`` (JSON, like the counter page) and
``POST /api/v1/<slug>/fhir/CoverageEligibilityRequest`` answering a FHIR R4 CoverageEligibilityResponse.
Both are built and validated with the ``fhir.resources`` R4B models (R4B keeps R4's shape for these two
resources); each call is stored as an eligibility check and audited.

Authentication is the API's (OAuth 2 client credentials) with the ``care.check_eligibility`` scope; the member
must be within the client account's reach for that permission, and a provider's client stays limited to its
own provider (``provider_users``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fhir.resources.R4B.coverageeligibilityrequest import CoverageEligibilityRequest
from fhir.resources.R4B.coverageeligibilityresponse import CoverageEligibilityResponse
from flask import Response, jsonify, request
from flask_babel import lazy_gettext as _l
from pydantic import ValidationError
from sqlalchemy import select

from app.api.auth import api_actor, api_requires
from app.api.blueprint import bp
from app.api.errors import ApiError
from app.care import eligibility
from app.care.models import CareProvider, CheckChannel
from app.care.providers import provider_scope
from app.coverage import rights
from app.database import utcnow
from app.errors import FieldError
from app.extensions import db
from app.members import services
from tenants.resolution import current_tenant

API_PERMISSION = "care.check_eligibility"
FHIR_JSON = "application/fhir+json"
MEMBER_SYSTEM = "urn:mbolo:member-number"
PROVIDER_SYSTEM = "urn:mbolo:provider-code"
BENEFIT_SYSTEM = "urn:mbolo:benefit-code"


def _provider_id(code: str | None) -> int | None:
    if not code:
        return None
    found = db.session.scalar(select(CareProvider.id).where(CareProvider.code == code.strip().upper()))
    if found is None:
        raise FieldError("provider", _l("Prestataire inconnu."))
    return found


def _check(number: str, provider_code: str | None, day: dt.date | None, channel: CheckChannel):
    tenant, actor = current_tenant(), api_actor()
    member = services.get_by_number(
        db.session, tenant, actor, number, permission=API_PERMISSION, audit_read=False
    )
    provider_id = _provider_id(provider_code)
    own = provider_scope(db.session, actor)
    if own is not None and provider_id is None:
        provider_id = own
    return eligibility.check_member(
        db.session, tenant, actor, member, channel=channel, provider_id=provider_id, day=day,
        permission=API_PERMISSION,
    )  # fmt: skip


@bp.post("/<tenant_slug>/care/eligibility")
@api_requires(API_PERMISSION)
def care_eligibility() -> Response:
    """The counter's check as JSON: ``{"number": …, "provider": <code>?, "date": <ISO>?}``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", _l("Le corps doit être un objet JSON."))
    number = str(body.get("number") or "").strip()
    if not number:
        raise FieldError("number", _l("Indiquez le numéro de membre."))
    raw_day = str(body.get("date") or "").strip()
    day = rights.parse_day(raw_day, "date") if raw_day else None
    result = _check(number, body.get("provider"), day, CheckChannel.api)
    return jsonify(result.as_dict())


def _identifier_value(reference: Any) -> str | None:
    if reference is None:
        return None
    if reference.identifier is not None and reference.identifier.value:
        return str(reference.identifier.value)
    if reference.reference:
        return str(reference.reference).rsplit("/", 1)[-1]
    return None


def _money(amount: int) -> dict[str, Any]:
    return {"value": amount, "currency": "XOF"}


def response_for(
    request_resource: CoverageEligibilityRequest, result: eligibility.Eligibility, tenant_name: str
) -> CoverageEligibilityResponse:
    """The FHIR answer: in force or not (with the reason), per covering product the asked items (all of the
    product's limited acts when none asked) with remaining amounts and whether prior approval is needed."""
    answer = result.rights
    asked = {
        coding.code
        for item in (request_resource.item or [])
        if item.productOrService is not None
        for coding in (item.productOrService.coding or [])
        if coding.code
    }
    insurance = []
    products = answer.products or []
    for held in products:
        items = []
        benefits = [pb for pb in held.product.benefits if pb.covered]
        if asked:
            benefits = [pb for pb in benefits if pb.benefit.code in asked]
        ceilings = {c.product_benefit.id: c for c in answer.ceilings}
        for pb in benefits:
            entry: dict[str, Any] = {
                "productOrService": {
                    "coding": [
                        {"system": BENEFIT_SYSTEM, "code": pb.benefit.code, "display": pb.benefit.name}
                    ]
                },
                "authorizationRequired": bool(pb.prior_approval),
                "benefit": [],
            }
            ceiling = ceilings.get(pb.id)
            if ceiling is not None and ceiling.beneficiary is not None:
                entry["benefit"].append(
                    {
                        "type": {"text": "plafond annuel du bénéficiaire"},
                        "allowedMoney": _money(ceiling.beneficiary.ceiling),
                        "usedMoney": _money(ceiling.beneficiary.consumed),
                    }
                )
            if ceiling is not None and ceiling.household is not None:
                entry["benefit"].append(
                    {
                        "type": {"text": "plafond annuel du foyer"},
                        "allowedMoney": _money(ceiling.household.ceiling),
                        "usedMoney": _money(ceiling.household.consumed),
                    }
                )
            entry["benefit"].append(
                {"type": {"text": "taux de prise en charge"}, "allowedString": f"{pb.rate_percent} %"}
            )
            items.append(entry)
        insurance.append(
            {
                "coverage": {"display": f"{held.product.name} ({held.product.code})"},
                "inforce": held.covered,
                "item": items or None,
            }
        )
    data: dict[str, Any] = {
        "resourceType": "CoverageEligibilityResponse",
        "id": str(result.check.id),
        "status": "active",
        "purpose": list(request_resource.purpose or ["validation"]),
        "patient": {
            "identifier": {"system": MEMBER_SYSTEM, "value": result.member.number},
            "display": result.member.full_name,
        },
        "servicedDate": result.day.isoformat(),
        "created": utcnow().isoformat(),
        "request": {"identifier": {"value": str(request_resource.id or result.check.id)}},
        "outcome": "complete",
        "disposition": answer.headline,
        "insurer": {"display": tenant_name},
        "insurance": insurance or None,
    }
    if result.provider is not None:
        data["requestor"] = {
            "identifier": {"system": PROVIDER_SYSTEM, "value": result.provider.code},
            "display": result.provider.name,
        }
    if not answer.covered:
        data["error"] = [
            {"code": {"coding": [{"code": str(answer.main_reason.code)}], "text": answer.headline}}
        ]
    return CoverageEligibilityResponse.model_validate({k: v for k, v in data.items() if v is not None})


def _outcome(status: int, code: str, text: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    response = jsonify(body)
    response.status_code = status
    response.mimetype = FHIR_JSON
    return response


@bp.post("/<tenant_slug>/fhir/CoverageEligibilityRequest")
@api_requires(API_PERMISSION)
def fhir_eligibility() -> Response:
    """FHIR R4 CoverageEligibilityRequest → CoverageEligibilityResponse. The patient is named by the member
    number (``patient.identifier.value``, or ``Patient/<number>``), the provider optionally by its code
    (``provider.identifier.value``), the day by ``servicedDate`` (the business date by default)."""
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        return _outcome(400, "structure", str(_l("Le corps doit être une ressource FHIR en JSON.")))
    try:
        resource = CoverageEligibilityRequest.model_validate(body)
    except ValidationError as error:
        return _outcome(
            400, "structure", str(error).splitlines()[0][:300] + " — " + str(error.errors()[0]["loc"])
        )
    number = _identifier_value(resource.patient)
    if not number:
        return _outcome(422, "required", str(_l("Le patient doit porter le numéro de membre.")))
    day = resource.servicedDate if isinstance(resource.servicedDate, dt.date) else None
    provider_code = _identifier_value(resource.provider)
    try:
        result = _check(number, provider_code, day, CheckChannel.fhir)
    except FieldError as error:
        db.session.rollback()
        return _outcome(422, "invalid", str(error.message))
    answer = response_for(resource, result, current_tenant().name)
    response = Response(answer.model_dump_json(), mimetype=FHIR_JSON)
    return response
