"""The audit log on the database: where events go, tampering found, append-only rights, request trail.

Tampering happens inside an owner transaction that each test rolls back, and the chains tested belong to
mutuals created for the test, so no test depends on what others wrote to the log.
"""

import threading
import time
import uuid

import pytest
from flask import Response
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from app.audit.chain import GENESIS, row_hash
from app.audit.models import AuditEvent, TenantAuditEvent
from app.audit.services import chain_head, record_event, record_read, verify_one
from app.extensions import db
from app.platform import owner_engine
from app.security.models import Account
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM


def _token() -> str:
    return uuid.uuid4().hex


def _mutual_with_events(session, create_mutual, count=5):
    ref = create_mutual(f"aud{uuid.uuid4().hex[:8]}")
    with tenant_scope(session, ref):
        for n in range(1, count + 1):
            record_event(session, SYSTEM, "tests.step", target_type="thing", target_id=n, n=n)
        session.commit()
    return ref


def _problems(app, connection, ref, exported=None):
    report = verify_one(connection, ref.schema, ref, app.config["MBOLO_AUDIT_KEY"], exported)
    return [(p.seq, p.kind) for p in report.problems]


@pytest.fixture
def owner(app):
    """An owner transaction, rolled back at the end: tampering leaves nothing behind."""
    with owner_engine(app).connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


def test_tenant_events_go_to_the_tenant_schema_and_security_events_to_public(session, world):
    token = _token()
    with tenant_scope(session, world.alpha):
        record_event(session, SYSTEM, "tests.in_tenant", target_type="thing", target_id=token)
        record_event(session, SYSTEM, "security.tests", target_type="thing", target_id=token)
        record_event(session, SYSTEM, "tests.platform", target_type="thing", target_id=token, platform=True)
        record_read(session, SYSTEM, "member", token, reason="contrôle")
        session.commit()
        in_tenant = session.scalars(
            select(TenantAuditEvent).where(TenantAuditEvent.target_id == token).order_by(TenantAuditEvent.seq)
        ).all()
    in_public = session.scalars(select(AuditEvent).where(AuditEvent.target_id == token)).all()
    assert [(e.action, e.tenant_slug) for e in in_tenant] == [
        ("tests.in_tenant", "alpha"),
        ("read.member", "alpha"),
    ]
    assert in_tenant[1].details == {"reason": "contrôle"}
    assert sorted((e.action, e.tenant_slug) for e in in_public) == [
        ("security.tests", "alpha"),
        ("tests.platform", "alpha"),
    ]
    assert in_tenant[1].seq == in_tenant[0].seq + 1 and in_tenant[1].prev_hash == in_tenant[0].hash
    with owner_engine().connect() as connection:  # the beta schema never saw them
        assert (
            connection.scalar(
                text("SELECT count(*) FROM t_beta.audit_events WHERE target_id = :t"), {"t": token}
            )
            == 0
        )


def test_a_clean_chain_verifies(app, session, create_mutual, owner):
    ref = _mutual_with_events(session, create_mutual)
    assert _problems(app, owner, ref) == []


def test_an_altered_row_is_detected(app, session, create_mutual, owner):
    ref = _mutual_with_events(session, create_mutual)
    owner.execute(text(f"UPDATE {ref.schema}.audit_events SET details = '{{\"n\": 99}}' WHERE seq = 3"))
    assert _problems(app, owner, ref) == [(3, "altered")]


def test_a_deleted_row_is_detected(app, session, create_mutual, owner):
    ref = _mutual_with_events(session, create_mutual)
    owner.execute(text(f"DELETE FROM {ref.schema}.audit_events WHERE seq = 3"))
    assert _problems(app, owner, ref) == [(4, "gap")]


def test_an_inserted_forged_row_is_detected(app, session, create_mutual, owner):
    ref = _mutual_with_events(session, create_mutual)
    head = chain_head(owner, ref.schema, ref)
    forged = {
        "seq": head["seq"] + 1, "prev_hash": head["hash"], "at": "2026-11-23T10:00:00+00:00",
        "actor_label": "admin@test.sn", "action": "tests.step", "outcome": "success", "details": "{}",
    }  # fmt: skip
    forged["hash"] = row_hash(b"a guessed key", ref.schema, head["hash"], forged)
    owner.execute(
        text(
            f"INSERT INTO {ref.schema}.audit_events (seq, prev_hash, hash, at, actor_label, action, outcome,"
            " details) VALUES (:seq, :prev_hash, :hash, :at, :actor_label, :action, :outcome, :details)"
        ),
        forged,
    )
    assert _problems(app, owner, ref) == [(head["seq"] + 1, "altered")]


def test_a_whole_chain_rewritten_with_the_key_is_detected_through_exported_heads(
    app, session, create_mutual, owner
):
    ref = _mutual_with_events(session, create_mutual)
    head = chain_head(owner, ref.schema, ref)
    exported = [(head["seq"], head["hash"])]
    # Someone holding the key changes row 2 and recomputes every hash after it.
    owner.execute(text(f"UPDATE {ref.schema}.audit_events SET details = '{{\"n\": 0}}' WHERE seq = 2"))
    rows = owner.execute(text(f"SELECT * FROM {ref.schema}.audit_events ORDER BY seq")).mappings().all()
    prev = GENESIS
    for row in rows:
        digest = row_hash(app.config["MBOLO_AUDIT_KEY"], ref.schema, prev, row)
        owner.execute(
            text(f"UPDATE {ref.schema}.audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
            {"p": prev, "h": digest, "id": row["id"]},
        )
        prev = digest
    assert _problems(app, owner, ref) == []  # consistent on its own…
    assert _problems(app, owner, ref, exported) == [
        (head["seq"], "head_mismatch")
    ]  # …but not with the export
    owner.execute(text(f"DELETE FROM {ref.schema}.audit_events WHERE seq = :s"), {"s": head["seq"]})
    assert _problems(app, owner, ref, exported) == [(head["seq"], "head_missing")]  # cut short


def test_the_runtime_role_may_only_append_to_the_public_log(session, world):
    for statement in (
        "UPDATE public.audit_events SET action = 'rewritten'",
        "DELETE FROM public.audit_events",
        "TRUNCATE public.audit_events",
    ):
        with pytest.raises(ProgrammingError, match="permission denied"):
            session.execute(text(statement))
        session.rollback()


def test_a_tenant_role_may_only_append_to_its_log(app, session, world):
    for statement in (
        "UPDATE audit_events SET action = 'rewritten'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "UPDATE public.audit_events SET action = 'rewritten'",
        "DELETE FROM public.audit_events",
    ):
        denied = pytest.raises(ProgrammingError, match="permission denied|must be owner")
        with denied, tenant_scope(db.session, world.alpha):
            db.session.execute(text(statement))
    with owner_engine(app).connect() as connection:
        owner = connection.scalar(
            text(
                "SELECT tableowner FROM pg_tables WHERE schemaname = 't_alpha' AND tablename = 'audit_events'"
            )
        )
    assert owner != world.alpha.role


def test_a_new_mutual_gets_an_append_only_log(app, session, create_mutual, owner):
    ref = create_mutual(f"aud{uuid.uuid4().hex[:8]}")
    assert _problems(app, owner, ref) == []  # verify_one checks the rights on the table too
    with pytest.raises(ProgrammingError, match="permission denied"), tenant_scope(session, ref):
        session.execute(text("DELETE FROM audit_events"))


def test_two_concurrent_appends_keep_a_valid_chain(app, session, create_mutual, owner):
    ref = create_mutual(f"aud{uuid.uuid4().hex[:8]}")
    first_flushed, times, errors = threading.Event(), {}, []

    def append(name: str, hold: float) -> None:
        try:
            with app.app_context(), tenant_scope(db.session, ref):
                if name == "second":
                    first_flushed.wait(5)
                record_event(db.session, SYSTEM, f"tests.{name}")
                db.session.flush()  # takes the chain's lock (the second waits here for the first's commit)
                times[f"{name}_flushed"] = time.monotonic()
                if name == "first":
                    first_flushed.set()
                    time.sleep(hold)
                times[f"{name}_committing"] = time.monotonic()
                db.session.commit()
        except Exception as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=append, args=(n, 0.4)) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert times["second_flushed"] >= times["first_committing"]  # the lock made it wait
    assert _problems(app, owner, ref) == []
    apply = owner.execute(text(f"SELECT action, seq FROM {ref.schema}.audit_events ORDER BY seq")).all()
    assert [tuple(r) for r in apply] == [("tests.first", 1), ("tests.second", 2)]


def _request_events(session, request_id, model=AuditEvent):
    return session.scalars(select(model).where(model.request_id == request_id).order_by(model.id)).all()


def test_a_post_records_before_and_after_values(login, session, create_federation):
    federation = create_federation("Fédération avant")
    client = login("admin@test.sn")
    request_id = f"test-{_token()}"
    response = client.post(
        f"/hierarchie/noeuds/{federation.public_id}/modifier",
        data={"name": "Fédération après", "region": "Thiès"},
        headers={"X-Request-ID": request_id, "User-Agent": "pytest-agent"},
    )
    assert response.status_code == 302 and response.headers["X-Request-ID"] == request_id
    session.expire_all()
    events = _request_events(session, request_id)
    http = next(e for e in events if e.action == "http.post")
    assert any(e.action.startswith("hierarchy.") for e in events)  # the domain event shares the request id
    assert (http.outcome, http.method, http.user_agent, http.actor_label) == (
        "success", "POST", "pytest-agent", "admin@test.sn",
    )  # fmt: skip
    assert http.details["endpoint"] == "hierarchy.edit" and http.details["status"] == 302
    change = next(c for c in http.details["changes"] if c["table"] == "public.hierarchy_nodes")
    assert change["op"] == "update" and change["id"] == federation.id
    assert change["before"]["name"] == "Fédération avant" and change["after"]["name"] == "Fédération après"
    assert change["after"]["region"] == "Thiès"


def test_secret_columns_are_masked_in_the_request_trail(app, world):
    from app.audit.requests import audit_request

    request_id = f"mask-{_token()}"
    with app.test_request_context("/tests", method="POST", headers={"X-Request-ID": request_id}):
        account = db.session.scalar(select(Account).where(Account.email == "admin@test.sn"))
        account.password_hash = "$argon2id$new"
        account.full_name = "Admin renamed"
        audit_request(Response(status=200), kept=True)
        db.session.flush()
        http = db.session.scalar(select(AuditEvent).where(AuditEvent.request_id == request_id))
        change = next(c for c in http.details["changes"] if c["table"] == "public.accounts")
        actor = http.actor_label
        db.session.rollback()  # nothing of it is kept
    assert change["before"]["password_hash"] == change["after"]["password_hash"] == "***"
    assert change["after"]["full_name"] == "Admin renamed" and actor == "anonymous"


def test_a_refused_post_is_audited_as_denied_in_the_tenant_chain(login, session, world):
    client = login("sup.a@test.sn")  # may read alpha, may not send messages
    request_id = f"test-{_token()}"
    response = client.post(
        "/alpha/messages",
        data={"channel": "sms", "recipient": "+221770000000", "body": "Bonjour"},
        headers={"X-Request-ID": request_id},
    )
    assert response.status_code == 403
    with tenant_scope(session, world.alpha):
        [event] = _request_events(session, request_id, TenantAuditEvent)
        assert (event.action, event.outcome, event.actor_label, event.tenant_slug) == (
            "http.post", "denied", "sup.a@test.sn", "alpha",
        )  # fmt: skip
        assert event.details["status"] == 403
        # nothing of the refused change (security monitoring may have committed an alert of its own)
        assert not [c for c in event.details.get("changes", []) if c["table"] == "outbox_messages"]
    assert not [e for e in _request_events(session, request_id) if e.action == "http.post"]


def test_an_anonymous_post_is_audited_as_denied(client, session, world):
    request_id = f"test-{_token()}"
    response = client.post("/alpha/messages", data={"body": "x"}, headers={"X-Request-ID": request_id})
    assert response.status_code == 302  # to the sign-in page
    with tenant_scope(session, world.alpha):
        [event] = _request_events(session, request_id, TenantAuditEvent)
        assert (event.outcome, event.actor_id, event.actor_label) == ("denied", None, "anonymous")


def test_an_unsafe_request_id_is_replaced(client, world):
    response = client.get("/healthz", headers={"X-Request-ID": "bad id; x=1"})
    assert len(response.headers["X-Request-ID"]) == 32
