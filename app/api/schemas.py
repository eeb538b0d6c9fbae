"""JSON in and out for the members API: bodies → the services' inputs (``FieldError`` on bad input, named
like the body's fields), members → plain dicts (the ``Member`` and ``Household`` schemas of the OpenAPI
document)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.api.errors import ApiError
from app.errors import FieldError
from app.members.models import Member, MemberStatus
from app.members.services import ConsentInput, DependantInput, PersonInput, household_of
from hierarchy.models import Node

PERSON_FIELDS = tuple(PersonInput.__dataclass_fields__)
ENROL_FIELDS = frozenset(
    {*PERSON_FIELDS, "association", "enrolled_on", "dependants", "consent", "confirm_not_duplicate"}
)
DEPENDANT_FIELDS = frozenset({*PERSON_FIELDS, "relationship"})
STATUS_FIELDS = frozenset({"status", "reason", "effective_on"})
MAX_PER_PAGE = 100


# --- in ----------------------------------------------------------------------------------------------------


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400, "invalid_json", _l("Corps attendu : un objet JSON (Content-Type: application/json).")
        )
    return body


def _only(body: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    for key in body:
        if key not in allowed:
            raise FieldError(f"{prefix}{key}", _l("Champ inconnu."))


def _text(body: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = body.get(key)
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # a year typed as a number, a phone without quotes
    if not isinstance(value, str):
        raise FieldError(f"{prefix}{key}", _l("Texte attendu."))
    return value


def _day(body: Mapping[str, Any], key: str, field: str | None = None) -> dt.date | None:
    raw = _text(body, key).strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as bad:
        raise FieldError(field or key, _l("Date attendue au format AAAA-MM-JJ.")) from bad


def person(body: Mapping[str, Any], prefix: str = "") -> PersonInput:
    return PersonInput(**{name: _text(body, name, prefix) for name in PERSON_FIELDS})


def dependant(body: Any, prefix: str = "") -> DependantInput:
    if not isinstance(body, dict):
        raise FieldError(prefix.rstrip("-") or "dependants", _l("Objet attendu."))
    _only(body, DEPENDANT_FIELDS, prefix)
    return DependantInput(person=person(body, prefix), relationship=_text(body, "relationship", prefix))


@dataclass(frozen=True)
class Enrolment:
    person: PersonInput
    association_code: str
    dependants: tuple[DependantInput, ...]
    consent: ConsentInput | None
    enrolled_on: dt.date | None
    confirm_not_duplicate: bool


def enrolment(body: Mapping[str, Any]) -> Enrolment:
    _only(body, ENROL_FIELDS)
    association = _text(body, "association").strip()
    if not association:
        raise FieldError("association", _l("Indiquez le code de l'association d'enrôlement."))
    raw_dependants = body.get("dependants") or []
    if not isinstance(raw_dependants, list):
        raise FieldError("dependants", _l("Liste attendue."))
    consent = None
    if (raw_consent := body.get("consent")) is not None:
        if not isinstance(raw_consent, dict):
            raise FieldError("consent", _l("Objet attendu."))
        _only(raw_consent, {"given_on", "text_version"}, "consent.")
        given_on = _day(raw_consent, "given_on", "consent.given_on")
        if given_on is None:
            raise FieldError("consent.given_on", _l("Indiquez la date du consentement."))
        consent = ConsentInput(
            given_on=given_on, text_version=_text(raw_consent, "text_version").strip() or None
        )
    confirm = body.get("confirm_not_duplicate", False)
    if not isinstance(confirm, bool):
        raise FieldError("confirm_not_duplicate", _l("Vrai ou faux attendu."))
    return Enrolment(
        person=person(body),
        association_code=association,
        dependants=tuple(dependant(d, f"dependants-{i}-") for i, d in enumerate(raw_dependants)),
        consent=consent,
        enrolled_on=_day(body, "enrolled_on"),
        confirm_not_duplicate=confirm,
    )


@dataclass(frozen=True)
class StatusChange:
    status: str
    reason: str
    effective_on: dt.date | None


def status_change(body: Mapping[str, Any]) -> StatusChange:
    _only(body, STATUS_FIELDS)
    return StatusChange(_text(body, "status").strip(), _text(body, "reason"), _day(body, "effective_on"))


@dataclass(frozen=True)
class Query:
    q: str
    status: str | None
    association_code: str | None
    page: int
    per_page: int


def _positive(name: str, default: int, maximum: int | None = None) -> int:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        message = (
            _l("Entier de 1 à %(max)s attendu.", max=maximum) if maximum else _l("Entier positif attendu.")
        )
        raise FieldError(name, message)
    return int(raw)


def list_query() -> Query:
    status = request.args.get("status", "").strip() or None
    if status is not None and status not in {s.value for s in MemberStatus}:
        raise FieldError("status", _l("Statut inconnu."))
    return Query(
        q=request.args.get("q", "").strip(),
        status=status,
        association_code=request.args.get("association", "").strip() or None,
        page=_positive("page", 1),
        per_page=_positive("per_page", 25, MAX_PER_PAGE),
    )


def association_id(session: Session, federation_path: str, code: str) -> int:
    """The id of association ``code`` of this mutual (whether the actor may use it is the services' call)."""
    node = session.scalar(select(Node).where(Node.code == code.strip().upper()))
    if node is None or not node.path.startswith(federation_path):
        raise FieldError("association", _l("Association inconnue dans cette mutuelle."))
    return node.id


# --- out ---------------------------------------------------------------------------------------------------


def association_codes(session: Session, members: Iterable[Member]) -> dict[int, str]:
    ids = {m.association_id for m in members}
    return dict(session.execute(select(Node.id, Node.code).where(Node.id.in_(ids))).all()) if ids else {}


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def member(m: Member, codes: Mapping[int, str]) -> dict[str, Any]:
    return {
        "number": m.number,
        "relationship": str(m.relation),
        "principal_number": m.principal.number if m.principal is not None else None,
        "last_name": m.last_name,
        "first_names": m.first_names,
        "sex": str(m.sex),
        "birth_date": _iso(m.birth_date),
        "birth_year": m.birth_year,
        "birth_place": m.birth_place,
        "national_id": m.national_id,
        "phone": m.phone,
        "phone_alt": m.phone_alt,
        "address": m.address,
        "commune": m.commune,
        "region": m.region,
        "trade": m.trade,
        "association": codes.get(m.association_id),
        "enrolled_on": _iso(m.enrolled_on),
        "status": str(m.status),
        "status_changed_at": _iso(m.status_changed_at),
    }


def detail(session: Session, m: Member) -> dict[str, Any]:
    """A member with their household (the adhérent first, then the ayants droit)."""
    people = household_of(m)
    codes = association_codes(session, people)
    principal, *dependants = people
    return {
        **member(m, codes),
        "household": {
            "principal": member(principal, codes),
            "dependants": [member(d, codes) for d in dependants],
        },
    }


def page(
    session: Session, items: list[Member], total: int, page_number: int, per_page: int
) -> dict[str, Any]:
    codes = association_codes(session, items)
    return {
        "items": [member(m, codes) for m in items],
        "total": total,
        "page": page_number,
        "per_page": per_page,
        "pages": max(1, -(-total // per_page)),
    }
