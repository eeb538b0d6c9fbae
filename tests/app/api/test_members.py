"""The members API: same permissions and scoping as the back office, JSON errors, every call audited."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.audit.models import AuditEvent, TenantAuditEvent
from app.extensions import db
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from tenants.context import tenant_scope
from tests.app.api.conftest import person_body
from tests.fixtures.app import SYSTEM, node, unique

MEMBERS = "/api/v1/alpha/members"


def _tenant_events(app, world, action: str, target_id: str | None = None) -> list[TenantAuditEvent]:
    with app.app_context(), tenant_scope(db.session, world.alpha):
        query = select(TenantAuditEvent).where(TenantAuditEvent.action == action)
        if target_id is not None:
            query = query.where(TenantAuditEvent.target_id == target_id)
        return list(db.session.scalars(query.order_by(TenantAuditEvent.id)))


def test_enrol_then_find_and_read_with_the_household(app, api, world):
    call = api()
    body = person_body(
        dependants=[
            {
                "relationship": "child",
                "last_name": "Ndiaye",
                "first_names": "Fatou",
                "sex": "F",
                "birth": "2016",
            }
        ]
    )
    created = call("POST", MEMBERS, json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    member = created.json
    number = member["number"]
    assert (
        member["status"] == "active"
        and member["association"] == "ASS-A"
        and member["relationship"] == "principal"
    )
    assert member["last_name"] == body["last_name"].upper()
    assert created.headers["Location"].endswith(f"/api/v1/alpha/members/{number}")
    [child] = member["household"]["dependants"]
    assert child["relationship"] == "child" and child["principal_number"] == number

    spelled = number.replace("-", "").lower()
    found = call("GET", f"{MEMBERS}/{spelled}")
    assert found.status_code == 200 and found.json["number"] == number
    assert found.json["household"]["principal"]["number"] == number
    assert found.headers["Cache-Control"] == "no-store"

    listed = call("GET", MEMBERS, query_string={"q": body["first_names"], "per_page": 10})
    assert listed.status_code == 200
    assert [m["number"] for m in listed.json["items"]] == [number]
    assert listed.json["total"] == 1 and listed.json["pages"] == 1
    by_number = call("GET", MEMBERS, query_string={"q": spelled}).json
    assert [m["number"] for m in by_number["items"]] == [number]
    filtered = call(
        "GET", MEMBERS, query_string={"status": "active", "association": "ass-a", "per_page": 100}
    )
    assert filtered.status_code == 200 and filtered.json["total"] >= 2 and filtered.json["per_page"] == 100

    # Lists, the read of the record and the enrolment are in alpha's chain, under the client's name.
    listing = _tenant_events(app, world, "read.member_list")[-1]
    assert listing.details["association"] == "ass-a" and listing.details["total"] == filtered.json["total"]
    [read] = _tenant_events(app, world, "read.member", number)
    assert read.actor_label.startswith("api:test-") and "mutual_manager@FED-A" in read.actor_grants
    [enrolled] = _tenant_events(app, world, "members.enrolled", number)
    assert enrolled.actor_label == read.actor_label
    request_events = [
        e for e in _tenant_events(app, world, "http.post") if e.details.get("endpoint") == "api.create_member"
    ]
    assert request_events[-1].actor_label == read.actor_label and request_events[-1].outcome == "success"


def test_bad_input_names_each_field_in_the_callers_language(api):
    call = api()
    missing_name = call("POST", MEMBERS, json=person_body(last_name=""))
    assert missing_name.status_code == 422
    assert missing_name.json["errors"] == {"last_name": "Le nom est obligatoire."}
    english = call("POST", MEMBERS, json=person_body(last_name=""), headers={"Accept-Language": "en"})
    assert english.json["errors"] == {"last_name": "The name is required."}

    too_old = person_body(
        dependants=[
            {"relationship": "child", "last_name": "A", "first_names": "B", "sex": "F", "birth": "1990"}
        ]
    )
    assert set(call("POST", MEMBERS, json=too_old).json["errors"]) == {"dependants[0].birth"}
    assert set(call("POST", MEMBERS, json=person_body(association="FED-B")).json["errors"]) == {"association"}
    assert set(call("POST", MEMBERS, json=person_body(nickname="x")).json["errors"]) == {"nickname"}
    assert set(
        call("POST", MEMBERS, json=person_body(consent={"given_on": "15/01/2026"})).json["errors"]
    ) == {"consent.given_on"}
    assert call("POST", MEMBERS, data="not json", content_type="application/json").status_code == 400
    assert call("GET", MEMBERS, query_string={"per_page": 101}).json["errors"].keys() == {"per_page"}
    assert call("GET", MEMBERS, query_string={"status": "asleep"}).status_code == 422
    wrong_check = call("GET", f"{MEMBERS}/ART-000001-00-0")
    assert wrong_check.status_code in (404, 422)


def test_possible_duplicates_answer_409_until_confirmed(api):
    call = api()
    body = person_body(confirm_not_duplicate=False, birth=f"{1930 + uuid.uuid4().int % 60}-05-02")
    first = call("POST", MEMBERS, json=body)
    assert first.status_code == 201
    again = call("POST", MEMBERS, json=body)
    assert again.status_code == 409 and again.json["error"] == "possible_duplicates"
    [candidate] = again.json["candidates"]
    assert candidate["number"] == first.json["number"] and body["first_names"] in candidate["name"]
    confirmed = call("POST", MEMBERS, json={**body, "confirm_not_duplicate": True})
    assert confirmed.status_code == 201 and confirmed.json["number"] != first.json["number"]


def test_dependants_and_status_changes(app, api, world):
    call = api()
    number = call("POST", MEMBERS, json=person_body()).json["number"]
    spouse = {
        "relationship": "spouse",
        "last_name": "Sow",
        "first_names": "Aminata",
        "sex": "F",
        "birth": "1986",
    }
    added = call("POST", f"{MEMBERS}/{number}/dependants", json=spouse)
    assert added.status_code == 201, added.get_data(as_text=True)
    assert added.json["relationship"] == "spouse" and added.json["principal_number"] == number
    assert call("POST", f"{MEMBERS}/{added.json['number']}/dependants", json=spouse).status_code == 422

    suspended = call(
        "POST",
        f"{MEMBERS}/{number}/status",
        json={"status": "suspended", "reason": "Cotisations impayées", "effective_on": "2026-11-01"},
    )
    assert suspended.status_code == 200 and suspended.json["status"] == "suspended"
    [event] = _tenant_events(app, world, "members.status_changed", number)
    assert event.details["effective_on"] == "2026-11-01" and event.actor_label.startswith("api:")
    refused = call("POST", f"{MEMBERS}/{number}/status", json={"status": "pending", "reason": "x"})
    assert refused.status_code == 422 and set(refused.json["errors"]) == {"status"}
    no_reason = call("POST", f"{MEMBERS}/{number}/status", json={"status": "active", "reason": " "})
    assert set(no_reason.json["errors"]) == {"reason"}


def test_a_client_sees_only_its_accounts_subtree(app, api):
    mine = api()
    number = mine("POST", MEMBERS, json=person_body()).json["number"]

    other = api("manager.b@test.sn")  # mutual manager of FED-B: beta only
    for method, path, body in (
        ("GET", MEMBERS, None),
        ("GET", f"{MEMBERS}/{number}", None),
        ("POST", MEMBERS, person_body()),
        ("POST", f"{MEMBERS}/{number}/status", {"status": "left", "reason": "x"}),
    ):
        response = other(method, path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json["error"] == "not_found"
    with app.app_context():
        attempt = db.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "security.cross_tenant_attempt")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    assert attempt.tenant_slug == "alpha" and attempt.actor_label.startswith("api:")
    assert other("GET", "/api/v1/beta/members").status_code == 200
    assert other("GET", "/api/v1/nowhere/members").status_code == 404


def test_missing_scope_or_permission_is_403(app, api):
    reader = api(token_scope="members.read")
    refused = reader("POST", MEMBERS, json=person_body())
    assert refused.status_code == 403 and refused.json["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]

    supervisor = api("sup.a@test.sn")  # supervisor of FED-A: members.read only
    assert supervisor("GET", MEMBERS).status_code == 200
    denied = supervisor("POST", MEMBERS, json=person_body())
    assert denied.status_code == 403 and denied.json["error"] == "forbidden"
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent)
            .where(AuditEvent.action == "security.permission_denied")
            .order_by(AuditEvent.id.desc())
            .limit(1)
        )
    assert event.actor_label.startswith("api:") and event.target_id == MEMBERS


def test_an_agents_client_reaches_its_own_association_only(app, api, make_staff, world):
    manager = api()
    number = manager("POST", MEMBERS, json=person_body()).json["number"]
    with app.app_context():
        other = hierarchy.create_child(
            db.session, SYSTEM, parent=node("LIG-A"), code=unique("ASS-"), details=NodeDetails(name="Autre")
        )
        db.session.commit()
        other_code = other.code
    elsewhere = api(make_staff((other_code, "association_agent"), mfa_enrolled=False).email)
    assert elsewhere("GET", f"{MEMBERS}/{number}").status_code == 404
    assert number not in {
        m["number"] for m in elsewhere("GET", MEMBERS, query_string={"per_page": 100}).json["items"]
    }
    assert elsewhere("POST", MEMBERS, json=person_body()).status_code == 403  # ASS-A is not theirs

    agent = api(make_staff(("ASS-A", "association_agent"), mfa_enrolled=False).email)
    assert agent("GET", f"{MEMBERS}/{number}").status_code == 200
    assert (
        agent("POST", f"{MEMBERS}/{number}/status", json={"status": "left", "reason": "x"}).status_code == 403
    )
