"""``/api/v1/<tenant_slug>/members…``: adhérents and ayants droit as JSON. Thin: parse (``schemas``), call one
service of ``app.members.services`` (which checks the actor's reach per association), shape the answer."""

from __future__ import annotations

from flask import Response, g, jsonify, request, url_for

from app.api import schemas
from app.api.auth import api_actor, api_requires
from app.api.blueprint import bp
from app.audit.services import record_read
from app.coverage import rights
from app.extensions import db
from app.members import services
from app.members.models import Member
from tenants.resolution import current_tenant


def _created(member: Member) -> Response:
    response = jsonify(schemas.detail(db.session, member))
    response.status_code = 201
    response.headers["Location"] = url_for(
        "api.get_member", tenant_slug=current_tenant().slug, number=member.number
    )
    return response


def _for_change(raw: str, permission: str) -> Member:
    """The member to change, by number (any spelling), within the actor's reach for ``permission``; not a
    read of the record (the change is audited)."""
    return services.get_by_number(
        db.session, current_tenant(), api_actor(), raw, permission=permission, audit_read=False
    )


@bp.get("/<tenant_slug>/members")
@api_requires("members.read")
def list_members() -> Response:
    """Adhérents and ayants droit in reach: by number, phone or name (q), status, association; paginated."""
    query = schemas.list_query()
    association = None
    if query.association_code:
        association = schemas.association_id(
            db.session, g.tenant_record.federation.path, query.association_code
        )
    found = services.search_members(
        db.session,
        current_tenant(),
        api_actor(),
        query.q,
        status=query.status,
        association_id=association,
        page=query.page,
        per_page=query.per_page,
    )
    # An external system may pull whole lists: each call leaves a trail (what was asked, how much came back).
    record_read(
        db.session, api_actor(), "member_list", None, q=query.q, status=query.status,
        association=query.association_code, page=found.page, returned=len(found.items), total=found.total,
    )  # fmt: skip
    return jsonify(schemas.page(db.session, found.items, found.total, found.page, found.per_page))


@bp.get("/<tenant_slug>/members/<number>")
@api_requires("members.read")
def get_member(number: str) -> Response:
    """One beneficiary and their household (the read is audited)."""
    member = services.get_by_number(db.session, current_tenant(), api_actor(), number)
    return jsonify(schemas.detail(db.session, member))


@bp.get("/<tenant_slug>/members/<number>/eligibility")
@api_requires("members.read")
def eligibility(number: str) -> Response:
    """Covered or not on ``date`` (the business date by default) and why, per product of the household, with
    the remaining ceilings: what a care provider checks before care (the read is audited)."""
    raw = request.args.get("date", "").strip()
    day = rights.parse_day(raw, "date") if raw else None
    member = services.get_by_number(db.session, current_tenant(), api_actor(), number)
    return jsonify(rights.rights_on(db.session, current_tenant(), member, day).as_dict())


@bp.post("/<tenant_slug>/members")
@api_requires("members.enrol")
def create_member() -> Response:
    """Enrol an adhérent with ayants droit and consent; possible duplicates need ``confirm_not_duplicate``."""
    data = schemas.enrolment(schemas.json_body())
    tenant_record = g.tenant_record
    member = services.enrol(
        db.session,
        current_tenant(),
        api_actor(),
        person=data.person,
        association_id=schemas.association_id(
            db.session, tenant_record.federation.path, data.association_code
        ),
        sector=tenant_record.sector,
        dependants=data.dependants,
        consent=data.consent,
        enrolled_on=data.enrolled_on,
        allow_duplicates=data.confirm_not_duplicate,
    )
    return _created(member)


@bp.post("/<tenant_slug>/members/<number>/dependants")
@api_requires("members.enrol")
def add_dependant(number: str) -> Response:
    """Add an ayant droit to an adhérent's household."""
    data = schemas.dependant(schemas.json_body())
    principal = _for_change(number, "members.enrol")
    return _created(services.add_dependant(db.session, current_tenant(), api_actor(), principal, data))


@bp.post("/<tenant_slug>/members/<number>/status")
@api_requires("members.manage")
def change_status(number: str) -> Response:
    """Move a beneficiary to another status, with a reason and the date it takes effect."""
    data = schemas.status_change(schemas.json_body())
    member = _for_change(number, "members.manage")
    services.change_status(
        db.session,
        current_tenant(),
        api_actor(),
        member,
        data.status,
        data.reason,
        effective_on=data.effective_on,
    )
    return jsonify(schemas.detail(db.session, member))
