"""Claims through the API, as FHIR R4 (the ``fhir.resources`` R4B models, R4's shape for these resources):

- ``POST /api/v1/<slug>/fhir/Claim``: one Claim (one patient, one provider) becomes an invoice of source
  ``api`` with one care record per ``servicedDate``; it is submitted and checked at once and answered with
  its ClaimResponse (201). The Claim's ``identifier`` is the invoice's ``external_ref``: sending the same
  Claim again answers the existing ClaimResponse (200) and creates nothing.
- ``GET /api/v1/<slug>/fhir/ClaimResponse/<invoice number or id>``: the ClaimResponse of any invoice.

Mapping: ``patient.identifier.value`` = member number; ``provider.identifier.value`` = provider code (provider
staff clients: their own provider by default); ``item.productOrService.coding.code`` = benefit code,
``quantity.value``, ``unitPrice.value`` (XOF), ``servicedDate``; ``careTeam[0].provider.display`` =
prescriber; ``diagnosis[0].diagnosisCodeableConcept.text`` = diagnosis; ``insurance[0].preAuthRef[0]`` =
guarantee letter number. In the ClaimResponse each item carries the adjudications ``submitted`` (asked),
``eligible`` (agreed price × accepted quantity), ``benefit`` (the mutual's share) and ``copay`` (the member's
share), and one ``reason`` per reason code (``urn:mbolo:care-reason``, French display).

Authentication is the API's (OAuth 2 client credentials) with the ``care.record`` scope; provider staff
clients stay limited to their own provider by ``provider_users``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from fhir.resources.R4B.claim import Claim
from fhir.resources.R4B.claimresponse import ClaimResponse
from flask import Response, jsonify, request
from flask_babel import lazy_gettext as _l
from pydantic import ValidationError
from sqlalchemy import or_, select

from app.api.auth import api_actor, api_requires
from app.api.blueprint import bp
from app.care import controls, invoices, records
from app.care.claims_models import CareInvoice, InvoiceSource, InvoiceStatus
from app.care.models import CareProvider
from app.coverage.models import Benefit
from app.database import utcnow
from app.errors import DomainError, FieldError, NotFound
from app.extensions import db
from app.members.models import Member
from tenants.resolution import current_tenant

API_PERMISSION = "care.record"
FHIR_JSON = "application/fhir+json"
MEMBER_SYSTEM = "urn:mbolo:member-number"
PROVIDER_SYSTEM = "urn:mbolo:provider-code"
BENEFIT_SYSTEM = "urn:mbolo:benefit-code"
REASON_SYSTEM = "urn:mbolo:care-reason"
INVOICE_SYSTEM = "urn:mbolo:care-invoice"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_TYPE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "professional"}]
}


def _outcome(status: int, code: str, text: str) -> Response:
    response = jsonify(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        }
    )
    response.status_code = status
    response.mimetype = FHIR_JSON
    return response


def _identifier_value(reference: Any) -> str | None:
    if reference is None:
        return None
    if getattr(reference, "identifier", None) is not None and reference.identifier.value:
        return str(reference.identifier.value)
    if getattr(reference, "reference", None):
        return str(reference.reference).rsplit("/", 1)[-1]
    return None


def _money(amount: int) -> dict[str, Any]:
    return {"value": amount, "currency": "XOF"}


def _adjudication(code: str, amount: int | None = None, **extra: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"category": {"coding": [{"system": ADJUDICATION, "code": code}]}, **extra}
    if amount is not None:
        found["amount"] = _money(amount)
    return found


def _outcome_code(invoice: CareInvoice) -> str:
    if invoice.status in (InvoiceStatus.draft, InvoiceStatus.submitted):
        return "queued"
    if invoice.status is InvoiceStatus.in_review:
        return "partial"
    return "complete"


def claim_response(invoice: CareInvoice, tenant_name: str) -> ClaimResponse:
    """The ClaimResponse of an invoice: per line its adjudications and reasons, the totals."""
    records_ = invoice.records
    members = {
        m.id: m
        for m in db.session.scalars(
            select(Member).where(Member.id.in_({r.member_id for r in records_} or {0}))
        )
    }
    benefit_ids = {ln.benefit_id for r in records_ for ln in r.lines}
    benefits = {
        b.id: b for b in db.session.scalars(select(Benefit).where(Benefit.id.in_(benefit_ids or {0})))
    }
    provider = db.session.get(CareProvider, invoice.provider_id)
    assert provider is not None
    items, sequence = [], 0
    for record in records_:
        for line in record.lines:
            sequence += 1
            adjudication = [_adjudication("submitted", line.amount_asked)]
            if str(line.outcome) != "pending":
                eligible = (line.agreed_unit_price or 0) * line.quantity_accepted
                adjudication += [
                    _adjudication("eligible", eligible),
                    _adjudication(
                        "benefit",
                        line.amount_accepted,
                        reason={
                            "coding": [
                                {"system": REASON_SYSTEM, "code": code, "display": controls.label(code)}
                                for code in line.reason_codes
                            ]
                            or [{"system": REASON_SYSTEM, "code": str(line.outcome)}],
                            "text": str(controls.OUTCOME_LABELS[str(line.outcome)]),
                        },
                    ),
                    _adjudication("copay", line.member_share),
                ]
            items.append(
                {
                    "itemSequence": sequence,
                    "adjudication": adjudication,
                    "extension": [
                        {"url": "urn:mbolo:care-line-outcome", "valueCode": str(line.outcome)},
                        {"url": "urn:mbolo:benefit-code", "valueCode": benefits[line.benefit_id].code},
                    ],
                }
            )
    first = members.get(records_[0].member_id) if records_ else None
    status_label = str(invoices.STATUS_LABELS[invoice.status])
    data: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "id": invoice.public_id,
        "identifier": [{"system": INVOICE_SYSTEM, "value": invoice.number}],
        "status": "active",
        "type": CLAIM_TYPE,
        "use": "claim",
        "patient": {
            "identifier": {"system": MEMBER_SYSTEM, "value": first.number},
            "display": first.full_name,
        }
        if first
        else {"display": "—"},
        "created": (invoice.checked_at or invoice.submitted_at or invoice.created_at or utcnow()).isoformat(),
        "insurer": {"display": tenant_name},
        "requestor": {
            "identifier": {"system": PROVIDER_SYSTEM, "value": provider.code},
            "display": provider.name,
        },
        "request": {"identifier": {"value": invoice.external_ref or invoice.number}},
        "outcome": _outcome_code(invoice),
        "disposition": f"{invoice.number} : {status_label}",
        "item": items or None,
        "total": [
            _adjudication("submitted", invoice.amount_asked),
            _adjudication("benefit", invoice.amount_accepted),
            _adjudication("copay", invoice.member_share),
        ],
    }
    if invoice.status in (InvoiceStatus.validated, InvoiceStatus.paid):
        data["payment"] = {
            "type": {"coding": [{"code": "complete" if invoice.status is InvoiceStatus.paid else "partial"}]},
            "amount": _money(invoice.amount_accepted),
        }
    return ClaimResponse.model_validate({k: v for k, v in data.items() if v is not None})


def _fhir(resource: ClaimResponse, status: int = 200) -> Response:
    return Response(resource.model_dump_json(), status=status, mimetype=FHIR_JSON)


def _provider(actor: Any, code: str | None) -> CareProvider:
    own = records.own_provider_id(db.session, actor)
    if code:
        provider = db.session.scalar(select(CareProvider).where(CareProvider.code == code.strip().upper()))
        if provider is None:
            raise FieldError("provider", _l("Prestataire inconnu."))
        records.check_provider(db.session, actor, provider.id)
        return provider
    if own is None:
        raise FieldError("provider", _l("Indiquez le code du prestataire (provider.identifier)."))
    provider = db.session.get(CareProvider, own)
    assert provider is not None
    return provider


def _records_of(claim: Claim, number: str) -> list[records.RecordInput]:
    """One record per serviced date (the Claim's ``billablePeriod.start`` when an item has none)."""
    default_day = None
    if claim.billablePeriod is not None and claim.billablePeriod.start is not None:
        default_day = claim.billablePeriod.start
        default_day = default_day.date() if isinstance(default_day, dt.datetime) else default_day
    by_day: dict[dt.date, list[records.LineInput]] = defaultdict(list)
    for index, item in enumerate(claim.item or []):
        day = item.servicedDate or default_day
        if day is None:
            raise FieldError(f"item[{index}].servicedDate", _l("Indiquez la date des soins."))
        codes = (
            [c.code for c in (item.productOrService.coding or []) if c.code] if item.productOrService else []
        )
        if not codes:
            raise FieldError(f"item[{index}].productOrService", _l("Indiquez le code de l'acte."))
        quantity = int(item.quantity.value) if item.quantity is not None and item.quantity.value else 1
        if item.unitPrice is None or item.unitPrice.value is None:
            raise FieldError(f"item[{index}].unitPrice", _l("Indiquez le prix unitaire demandé."))
        by_day[day].append(records.LineInput(codes[0], quantity, int(item.unitPrice.value)))
    if not by_day:
        raise FieldError("item", _l("Ajoutez au moins un acte ou un médicament."))
    prescriber = ""
    if claim.careTeam and claim.careTeam[0].provider is not None:
        prescriber = claim.careTeam[0].provider.display or ""
    diagnosis = None
    if claim.diagnosis and claim.diagnosis[0].diagnosisCodeableConcept is not None:
        concept = claim.diagnosis[0].diagnosisCodeableConcept
        diagnosis = concept.text or next((c.display or c.code for c in (concept.coding or [])), None)
    letter = None
    if claim.insurance and claim.insurance[0].preAuthRef:
        letter = claim.insurance[0].preAuthRef[0]
    return [
        records.RecordInput(
            member_number=number,
            care_date=day,
            lines=lines,
            prescriber=prescriber,
            diagnosis=diagnosis,
            letter_number=letter,
        )
        for day, lines in sorted(by_day.items())
    ]


@bp.post("/<tenant_slug>/fhir/Claim")
@api_requires(API_PERMISSION)
def fhir_claim() -> Response:
    """FHIR R4 Claim → an invoice submitted and checked → its ClaimResponse (201; 200 when sent again)."""
    body = request.get_json(silent=True, force=True)
    if not isinstance(body, dict):
        return _outcome(400, "structure", str(_l("Le corps doit être une ressource FHIR en JSON.")))
    try:
        claim = Claim.model_validate(body)
    except ValidationError as error:
        return _outcome(
            400, "structure", str(error).splitlines()[0][:300] + " — " + str(error.errors()[0]["loc"])
        )
    tenant, actor = current_tenant(), api_actor()
    number = _identifier_value(claim.patient)
    if not number:
        return _outcome(422, "required", str(_l("Le patient doit porter le numéro de membre.")))
    reference = next((i.value for i in (claim.identifier or []) if i.value), None)
    try:
        provider = _provider(actor, _identifier_value(claim.provider))
        if reference:
            again = db.session.scalar(
                select(CareInvoice).where(
                    CareInvoice.provider_id == provider.id, CareInvoice.external_ref == reference[:80]
                )
            )
            if again is not None:
                return _fhir(claim_response(again, tenant.name))
        inputs = _records_of(claim, number)
        days = [r.care_date for r in inputs]
        invoice = invoices.create_invoice(
            db.session,
            tenant,
            actor,
            provider,
            period_start=min(days),
            period_end=max(days),
            source=InvoiceSource.api,
            external_ref=reference[:80] if reference else None,
        )
        for data in inputs:
            records.create_record(db.session, tenant, actor, provider, data, invoice=invoice)
        invoices.submit_invoice(db.session, tenant, actor, invoice)
        invoices.check_invoices(db.session, tenant, [invoice.id])
    except NotFound as error:
        db.session.rollback()
        return _outcome(404, "not-found", str(error.message))
    except DomainError as error:
        db.session.rollback()
        where = f"{error.field} : " if isinstance(error, FieldError) else ""
        return _outcome(422, "invalid", where + str(error.message))
    db.session.refresh(invoice)
    response = _fhir(claim_response(invoice, tenant.name), 201)
    response.headers["Location"] = (
        f"{request.url_root.rstrip('/')}/api/v1/{tenant.slug}/fhir/ClaimResponse/{invoice.number}"
    )
    return response


@bp.get("/<tenant_slug>/fhir/ClaimResponse/<ref>")
@api_requires(API_PERMISSION)
def fhir_claim_response(ref: str) -> Response:
    """The ClaimResponse of an invoice, by number (``FAC-2027-000012``) or id."""
    actor = api_actor()
    invoice = db.session.scalar(
        select(CareInvoice).where(or_(CareInvoice.number == ref, CareInvoice.public_id == ref))
    )
    own = records.own_provider_id(db.session, actor)
    if invoice is None or (own is not None and own != invoice.provider_id):
        return _outcome(404, "not-found", str(_l("Facture introuvable.")))
    return _fhir(claim_response(invoice, current_tenant().name))
