"""The OpenAPI 3.1 document of ``/api/v1``, written by hand (a test checks it against the URL map, both ways).

Keep it next to the endpoints: a new route without its path here fails ``tests/app/api/test_openapi.py``.
"""

from __future__ import annotations

from typing import Any

from app.api.models import API_SCOPES
from app.members.numbers import MemberNumber

VERSION = "1.0.0"
JSON = "application/json"
EXAMPLE_NUMBER = str(MemberNumber("ART", 42, 0))
_COMPACT_EXAMPLE = EXAMPLE_NUMBER.replace("-", "").lower()


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


_NULLABLE_TEXT = {"type": ["string", "null"]}
_PERSON_INPUT = {
    "last_name": {"type": "string", "description": "Required.", "examples": ["Diop"]},
    "first_names": {"type": "string", "description": "Required.", "examples": ["Awa"]},
    "sex": {"type": "string", "enum": ["F", "M"]},
    "birth": {
        "type": "string",
        "description": 'Exact date ("1985-03-12" or "12/03/1985") or the year only ("1985", "vers 1985").',
        "examples": ["1985-03-12"],
    },
    "birth_place": _NULLABLE_TEXT,
    "national_id": {**_NULLABLE_TEXT, "description": "Senegal's NIN: 13 digits (14 on older cards)."},
    "phone": {**_NULLABLE_TEXT, "description": "Any usual spelling; stored as E.164 (+221…)."},
    "phone_alt": _NULLABLE_TEXT,
    "address": _NULLABLE_TEXT,
    "commune": _NULLABLE_TEXT,
    "region": _NULLABLE_TEXT,
    "trade": {
        **_NULLABLE_TEXT,
        "description": "For the adhérent: one of the mutual's sector list, or « autre ».",
    },
}
_REQUIRED_PERSON = ["last_name", "first_names", "sex", "birth"]


def _member_schema() -> dict[str, Any]:
    date = {"type": ["string", "null"], "format": "date"}
    return {
        "type": "object",
        "properties": {
            "number": {
                "type": "string",
                "description": "Member number with its check character.",
                "examples": [EXAMPLE_NUMBER],
            },
            "relationship": {"type": "string", "enum": ["principal", "spouse", "child", "other"]},
            "principal_number": {
                "type": ["string", "null"],
                "description": "The adhérent of an ayant droit.",
            },
            "last_name": {"type": "string"},
            "first_names": {"type": "string"},
            "sex": {"type": "string", "enum": ["F", "M"]},
            "birth_date": date,
            "birth_year": {"type": "integer"},
            "birth_place": _NULLABLE_TEXT,
            "national_id": _NULLABLE_TEXT,
            "phone": _NULLABLE_TEXT,
            "phone_alt": _NULLABLE_TEXT,
            "address": _NULLABLE_TEXT,
            "commune": _NULLABLE_TEXT,
            "region": _NULLABLE_TEXT,
            "trade": _NULLABLE_TEXT,
            "association": {"type": "string", "description": "Code of the association of enrolment."},
            "enrolled_on": {"type": "string", "format": "date"},
            "status": {"type": "string", "enum": ["pending", "active", "suspended", "left", "deceased"]},
            "status_changed_at": {"type": "string", "format": "date-time"},
        },
        "required": [
            "number",
            "relationship",
            "last_name",
            "first_names",
            "sex",
            "birth_year",
            "association",
            "enrolled_on",
            "status",
        ],
    }


_DATE = {"type": "string", "format": "date"}
_NULLABLE_DATE = {"type": ["string", "null"], "format": "date"}
_REASON_CODES = [
    "covered", "member_pending", "member_suspended", "member_left", "member_deceased", "not_enrolled",
    "principal_pending", "principal_suspended", "principal_left", "no_product", "not_started", "no_version",
    "waiting_period", "child_age_limit", "beneficiary_limit", "arrears", "payment_due",
]  # fmt: skip
_LIMIT = {
    "type": ["object", "null"],
    "description": "An amount ceiling over the calendar year (XOF); null when the benefit has none.",
    "properties": {
        "ceiling": {"type": "integer"},
        "consumed": {"type": "integer"},
        "remaining": {"type": "integer"},
    },
    "required": ["ceiling", "consumed", "remaining"],
}


def _eligibility_schemas() -> dict[str, Any]:
    """The answer of ``/eligibility`` (``app.coverage.rights.Rights.as_dict``)."""
    return {
        "Reason": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "enum": _REASON_CODES},
                "message": {"type": "string", "examples": ["délai de carence jusqu'au 12 février 2027"]},
                "date": {**_NULLABLE_DATE, "description": "The day the message is about, if any."},
                "product": {"type": ["string", "null"], "description": "Code of the product concerned."},
                "warning": {"type": "boolean", "description": "True: covered, but something is to be done."},
            },
            "required": ["code", "message", "date"],
        },
        "ProductRights": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "name": {"type": "string"},
                "subscription": {"type": "string"},
                "subscribed_on": _DATE,
                "version": {
                    "type": ["object", "null"],
                    "description": "The tariff in force on the day.",
                    "properties": {"number": {"type": "integer"}, "effective_from": _DATE},
                },
                "valid": {"type": "boolean", "description": "False for a subscription that starts later."},
                "covered": {"type": "boolean"},
                "reasons": {"type": "array", "items": _ref("Reason")},
                "opens_on": {
                    **_NULLABLE_DATE,
                    "description": "First covered day (end of the waiting period).",
                },
                "paid_through": {**_NULLABLE_DATE, "description": "End of the last period paid in full."},
                "grace_until": {**_NULLABLE_DATE, "description": "Last day of grace of the oldest due owed."},
            },
            "required": ["code", "name", "covered", "reasons"],
        },
        "Ceiling": {
            "type": "object",
            "properties": {
                "product": {"type": "string"},
                "benefit": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "string"},
                        "name": {"type": "string"},
                        "category": {"type": "string"},
                    },
                },
                "year": {"type": "integer"},
                "rate_percent": {"type": "integer"},
                "per_act": {"type": ["integer", "null"]},
                "prior_approval": {"type": "boolean"},
                "beneficiary": _LIMIT,
                "household": _LIMIT,
                "frequency": {
                    "type": ["object", "null"],
                    "description": "At most `count` times every `months` months (the calendar year if null).",
                    "properties": {
                        "count": {"type": "integer"},
                        "months": {"type": ["integer", "null"]},
                        "used": {"type": "integer"},
                        "remaining": {"type": "integer"},
                        "since": _DATE,
                    },
                },
            },
            "required": ["product", "benefit", "year", "beneficiary", "household", "frequency"],
        },
        "Eligibility": {
            "type": "object",
            "properties": {
                "number": {"type": "string", "examples": [EXAMPLE_NUMBER]},
                "date": _DATE,
                "covered": {"type": "boolean"},
                "summary": {"type": "string", "examples": ["Couvert aujourd'hui par Produit de base"]},
                "reasons": {
                    "type": "array",
                    "items": _ref("Reason"),
                    "description": "The main reason first: `covered` (then warnings), or the first rule that "
                    "refuses.",
                },
                "opens_on": _NULLABLE_DATE,
                "paid_through": _NULLABLE_DATE,
                "grace_until": _NULLABLE_DATE,
                "products": {"type": "array", "items": _ref("ProductRights")},
                "ceilings": {"type": "array", "items": _ref("Ceiling")},
            },
            "required": ["number", "date", "covered", "reasons", "products", "ceilings"],
        },
    }


def _schemas() -> dict[str, Any]:
    return {
        "Member": _member_schema(),
        "Household": {
            "type": "object",
            "properties": {
                "principal": _ref("Member"),
                "dependants": {"type": "array", "items": _ref("Member")},
            },
            "required": ["principal", "dependants"],
        },
        "MemberDetail": {
            "allOf": [
                _ref("Member"),
                {"type": "object", "properties": {"household": _ref("Household")}, "required": ["household"]},
            ]
        },
        "Page": {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": _ref("Member")},
                "total": {"type": "integer", "description": "Matches in the client's reach, all pages."},
                "page": {"type": "integer"},
                "per_page": {"type": "integer", "maximum": 100},
                "pages": {"type": "integer"},
            },
            "required": ["items", "total", "page", "per_page", "pages"],
        },
        "Error": {
            "type": "object",
            "description": "Messages follow Accept-Language (French by default, English with `en`).",
            "properties": {
                "error": {
                    "type": "string",
                    "examples": ["invalid", "not_found", "forbidden", "invalid_token"],
                },
                "message": {"type": "string"},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Bad input: message per field of the body (e.g. `last_name`, "
                    "`dependants[0].birth`, `consent.given_on`) or of the query.",
                },
                "candidates": {"type": "array", "items": _ref("DuplicateCandidate")},
            },
            "required": ["error", "message"],
        },
        "DuplicateCandidate": {
            "type": "object",
            "properties": {
                "number": {"type": "string"},
                "name": {"type": "string"},
                "birth_year": {"type": "integer"},
                "status": {"type": "string"},
                "reason": {"type": "string"},
            },
        },
        "PersonInput": {"type": "object", "properties": _PERSON_INPUT, "required": _REQUIRED_PERSON},
        "DependantInput": {
            "type": "object",
            "properties": {
                **_PERSON_INPUT,
                "relationship": {"type": "string", "enum": ["spouse", "child", "other"]},
            },
            "required": [*_REQUIRED_PERSON, "relationship"],
            "additionalProperties": False,
        },
        "EnrolmentInput": {
            "type": "object",
            "description": "The adhérent's identity, where they enrol, their ayants droit and consent.",
            "properties": {
                **_PERSON_INPUT,
                "association": {"type": "string", "description": "Association code, e.g. ASS-A."},
                "enrolled_on": {"type": "string", "format": "date", "description": "Today by default."},
                "dependants": {"type": "array", "items": _ref("DependantInput")},
                "consent": {
                    "type": "object",
                    "description": "Consent collected: the household becomes active (pending without it).",
                    "properties": {
                        "given_on": {"type": "string", "format": "date"},
                        "text_version": {
                            "type": "string",
                            "description": "The mutual's current text by default.",
                        },
                    },
                    "required": ["given_on"],
                    "additionalProperties": False,
                },
                "confirm_not_duplicate": {
                    "type": "boolean",
                    "default": False,
                    "description": "After a 409, true once the candidates were checked and are someone else.",
                },
            },
            "required": [*_REQUIRED_PERSON, "association"],
            "additionalProperties": False,
        },
        "StatusInput": {
            "type": "object",
            "properties": {
                "status": {"type": "string", "enum": ["active", "suspended", "left", "deceased"]},
                "reason": {"type": "string"},
                "effective_on": {"type": "string", "format": "date", "description": "Today by default."},
            },
            "required": ["status", "reason"],
            "additionalProperties": False,
        },
        **_eligibility_schemas(),
        "TokenResponse": {
            "type": "object",
            "properties": {
                "access_token": {"type": "string"},
                "token_type": {"type": "string", "enum": ["Bearer"]},
                "expires_in": {"type": "integer", "examples": [3600]},
                "scope": {"type": "string", "examples": [" ".join(API_SCOPES)]},
            },
            "required": ["access_token", "token_type", "expires_in"],
        },
        "OAuthError": {
            "type": "object",
            "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
            "required": ["error"],
        },
    }


def _parameters() -> dict[str, Any]:
    return {
        "tenant_slug": {
            "name": "tenant_slug",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The mutual (e.g. artisanat). One the client's account has no grant over: 404.",
        },
        "number": {
            "name": "number",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": f"Member number, any spelling ({EXAMPLE_NUMBER}, {_COMPACT_EXAMPLE}…); "
            "a wrong check character gives 422.",
        },
        "q": {
            "name": "q",
            "in": "query",
            "schema": {"type": "string"},
            "description": "A member number, a phone number or a name (accents and spelling forgiven).",
        },
        "status": {
            "name": "status",
            "in": "query",
            "schema": {"type": "string", "enum": ["pending", "active", "suspended", "left", "deceased"]},
        },
        "association": {
            "name": "association",
            "in": "query",
            "schema": {"type": "string"},
            "description": "Association code.",
        },
        "date": {
            "name": "date",
            "in": "query",
            "schema": {"type": "string", "format": "date"},
            "description": "The day asked about (YYYY-MM-DD); today in Senegal by default.",
        },
        "page": {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        "per_page": {
            "name": "per_page",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25},
        },
    }


def _param(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


_COMMON = {
    "401": _error("No, invalid, expired or revoked token (`WWW-Authenticate: Bearer`)."),
    "403": _error("The token's scope or the client's account lacks the permission."),
    "404": _error("Unknown mutual, or one out of the client's reach; unknown or unreachable member."),
    "410": _error("The mutual is archived."),
    "503": _error("The mutual is suspended."),
}


def _operation(
    permission: str, summary: str, responses: dict[str, Any], *, operation_id: str, **extra: Any
) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["members"],
        "security": [{"oauth2": [permission]}],
        "x-permission": permission,
        "responses": {**responses, **_COMMON},
        **extra,
    }


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(schema)}}}


def _paths() -> dict[str, Any]:
    invalid = _error("Bad input: `errors` names each field with its message.")
    members = "/api/v1/{tenant_slug}/members"
    one = members + "/{number}"
    return {
        "/api/v1/oauth/token": {
            "post": {
                "operationId": "token",
                "summary": "Get an access token (client credentials; valid one hour)",
                "tags": ["auth"],
                "security": [{"clientBasic": []}, {}],
                "description": "Authenticate with HTTP Basic (client_id:client_secret) or with client_id and "
                "client_secret in the body. Without `scope`, the token carries all of the client's.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                    "scope": {
                                        "type": "string",
                                        "description": "Space-separated permissions.",
                                    },
                                    "client_id": {"type": "string"},
                                    "client_secret": {"type": "string"},
                                },
                                "required": ["grant_type"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("TokenResponse"), "A bearer token."),
                    "400": _json(
                        _ref("OAuthError"),
                        "invalid_request, unsupported_grant_type, invalid_scope, "
                        "invalid_client (body credentials).",
                    ),
                    "401": _json(_ref("OAuthError"), "invalid_client (wrong or revoked credentials)."),
                    "429": _error("Too many token requests from this address."),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "tags": ["meta"],
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1 document.", "content": {JSON: {}}}},
            }
        },
        members: {
            "parameters": [_param("tenant_slug")],
            "get": _operation(
                "members.read",
                "List or search adhérents and ayants droit in the client's reach",
                {"200": _json(_ref("Page"), "One page of members."), "422": invalid},
                operation_id="listMembers",
                parameters=[_param(n) for n in ("q", "status", "association", "page", "per_page")],
            ),
            "post": _operation(
                "members.enrol",
                "Enrol an adhérent (with ayants droit and consent)",
                {
                    "201": {
                        **_json(_ref("MemberDetail"), "Enrolled: the adhérent and their household."),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    "400": _error("The body is not a JSON object."),
                    "409": _error(
                        "Possible duplicates (`candidates`): check them, then send again with "
                        "`confirm_not_duplicate: true`."
                    ),
                    "422": invalid,
                },
                operation_id="createMember",
                requestBody=_body("EnrolmentInput"),
            ),
        },
        one: {
            "parameters": [_param("tenant_slug"), _param("number")],
            "get": _operation(
                "members.read",
                "One beneficiary with their household (the read is audited)",
                {"200": _json(_ref("MemberDetail"), "The member."), "422": invalid},
                operation_id="getMember",
            ),
        },
        one + "/eligibility": {
            "parameters": [_param("tenant_slug"), _param("number")],
            "get": _operation(
                "members.read",
                "Covered or not on a date, why, per product, with the remaining ceilings (read audited)",
                {"200": _json(_ref("Eligibility"), "The beneficiary's rights on that day."), "422": invalid},
                operation_id="getEligibility",
                parameters=[_param("date")],
                description="Rules in order: the beneficiary's status (and the adhérent's), a subscription "
                "of the household valid on the day, then per product the waiting period, the child age limit "
                "and maximum of beneficiaries of the tariff in force, and dues unpaid beyond the grace "
                "period. Messages follow Accept-Language (French by default).",
            ),
        },
        "/api/v1/{tenant_slug}/care/eligibility": {  # app/care/fhir_eligibility.py
            "parameters": [_param("tenant_slug")],
            "post": _operation(
                "care.check_eligibility",
                "Eligibility at a provider's counter: stored as a check and audited",
                {
                    "200": _json(
                        _ref("Eligibility"), "Rights, plus check_id, name, provider, prior_approval."
                    ),
                    "400": _error("The body is not a JSON object."),
                    "422": invalid,
                },
                operation_id="careEligibility",
                requestBody={
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "number": {"type": "string"},
                                    "provider": {"type": "string", "description": "Provider code."},
                                    "date": _DATE,
                                },
                                "required": ["number"],
                            }
                        }
                    },
                },
            ),
        },
        "/api/v1/{tenant_slug}/fhir/CoverageEligibilityRequest": {
            "parameters": [_param("tenant_slug")],
            "post": _operation(
                "care.check_eligibility",
                "FHIR R4 CoverageEligibilityRequest → CoverageEligibilityResponse (patient = member number)",
                {
                    "200": {"description": "A FHIR R4 CoverageEligibilityResponse (application/fhir+json)."},
                    "400": {
                        "description": "A FHIR OperationOutcome: not a valid CoverageEligibilityRequest."
                    },
                    "422": {"description": "A FHIR OperationOutcome: no member number, unknown provider."},
                },
                operation_id="fhirCoverageEligibility",
                requestBody={
                    "required": True,
                    "content": {
                        "application/fhir+json": {"schema": {"type": "object"}},
                        JSON: {"schema": {"type": "object"}},
                    },
                },
            ),
        },  # fmt: skip
        "/api/v1/{tenant_slug}/fhir/Claim": {  # app/care/fhir_claims.py
            "parameters": [_param("tenant_slug")],
            "post": _operation(
                "care.record",
                "FHIR R4 Claim → an invoice submitted, checked and valued → its ClaimResponse",
                {
                    "201": {"description": "A FHIR R4 ClaimResponse (200: the same Claim identifier again)."},
                    "400": {"description": "A FHIR OperationOutcome: not a valid Claim."},
                    "422": {
                        "description": "A FHIR OperationOutcome: unknown member, act, provider; bad date."
                    },
                },
                operation_id="fhirClaim",
                requestBody={
                    "required": True,
                    "content": {
                        "application/fhir+json": {"schema": {"type": "object"}},
                        JSON: {"schema": {"type": "object"}},
                    },
                },
            ),
        },
        "/api/v1/{tenant_slug}/fhir/ClaimResponse/{ref}": {  # app/care/fhir_claims.py
            "parameters": [
                _param("tenant_slug"),
                {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "get": _operation(
                "care.record",
                "The FHIR R4 ClaimResponse of an invoice (by number or id): each line's outcome and reasons",
                {
                    "200": {"description": "A FHIR R4 ClaimResponse (application/fhir+json)."},
                    "404": {"description": "A FHIR OperationOutcome: no such invoice within reach."},
                },
                operation_id="fhirClaimResponse",
            ),
        },  # fmt: skip
        one + "/dependants": {
            "parameters": [_param("tenant_slug"), _param("number")],
            "post": _operation(
                "members.enrol",
                "Add an ayant droit to an adhérent's household",
                {
                    "201": {
                        **_json(_ref("MemberDetail"), "The new ayant droit and the household."),
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                    "400": _error("The body is not a JSON object."),
                    "422": invalid,
                },
                operation_id="addDependant",
                requestBody=_body("DependantInput"),
            ),
        },
        one + "/status": {
            "parameters": [_param("tenant_slug"), _param("number")],
            "post": _operation(
                "members.manage",
                "Change a beneficiary's status (reason and effective date kept in history)",
                {
                    "200": _json(_ref("MemberDetail"), "The member after the change."),
                    "400": _error("The body is not a JSON object."),
                    "422": invalid,
                },
                operation_id="changeStatus",
                requestBody=_body("StatusInput"),
            ),
        },
    }


def document(*, server_url: str, token_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Mbolo API",
            "version": VERSION,
            "description": "Members and beneficiaries of Senegal's social health mutuals. An API client acts "
            "with the grants of its staff account (same permissions, same subtree), narrowed to its token's "
            "scope; every call is audited.",
        },
        "servers": [{"url": server_url}],
        "tags": [
            {"name": "auth", "description": "OAuth 2 client credentials."},
            {"name": "members", "description": "Adhérents and ayants droit of one mutual."},
            {"name": "meta"},
        ],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "description": "Bearer tokens from the token endpoint; scopes are permission codes.",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": token_url,
                            "scopes": {
                                "members.read": "Read adhérents and ayants droit",
                                "members.enrol": "Enrol adhérents and add ayants droit",
                                "members.manage": "Change a beneficiary's status",
                                "care.check_eligibility": "Check rights at a provider's counter",
                                "care.record": "Submit care and invoices (FHIR Claim) and read their outcome",
                            },
                        }
                    },
                },
                "clientBasic": {"type": "http", "scheme": "basic", "description": "client_id:client_secret"},
            },
        },
    }
