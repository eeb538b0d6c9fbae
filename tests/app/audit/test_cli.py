"""``mbolo audit verify | export-heads | seal`` and the daily task, on a database of their own: the exit
code of ``verify`` speaks for every chain, so no other test's rows may reach it."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from app import create_app
from app.audit.chain import GENESIS, row_hash
from app.audit.cli import audit
from app.audit.services import record_event
from app.extensions import db
from app.platform import owner_engine
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from migrations.runner import upgrade_all
from tenants.context import tenant_scope
from tenants.services import create_tenant
from tests.fixtures.app import SYSTEM
from tests.fixtures.database import app_overrides, reset_database


@pytest.fixture(scope="module")
def isolated(app):
    """Its own database with public events and one mutual with a few events; the main test app gets the
    Celery app back afterwards (``create_app`` points Celery at the newest app)."""
    from app.worker import init_celery

    other = create_app(app_overrides(reset_database("mbolo_test_audit")))
    engine = owner_engine(other)
    upgrade_all(engine, report=lambda _step: None)
    with other.app_context():
        ministry = hierarchy.create_root(db.session, SYSTEM, code="MIN", details=NodeDetails(name="M"))
        hierarchy.create_child(
            db.session, SYSTEM, parent=ministry, code="FED-1", details=NodeDetails(name="F")
        )
        db.session.commit()
        ref = create_tenant(
            engine, SYSTEM, slug="one", name="One", sector="commerce", federation_code="FED-1"
        )
        with tenant_scope(db.session, ref):
            for n in range(4):
                record_event(db.session, SYSTEM, "tests.step", n=n)
            db.session.commit()
    yield other
    engine.dispose()
    init_celery(app)


def _invoke(app, *args):
    with app.app_context():
        return CliRunner().invoke(audit, list(args))


def test_verify_exit_codes_and_exported_heads(isolated, tmp_path):
    engine, key = owner_engine(isolated), isolated.config["MBOLO_AUDIT_KEY"]
    clean = _invoke(isolated, "verify")
    assert clean.exit_code == 0, clean.output
    assert [line.split()[0] for line in clean.output.splitlines()[1:]] == ["public", "t_one"]

    heads_file = tmp_path / "heads.jsonl"
    exported = _invoke(isolated, "export-heads", "--out", str(heads_file))
    assert exported.exit_code == 0, exported.output
    heads = [json.loads(line) for line in heads_file.read_text().splitlines()]
    assert [h["chain"] for h in heads] == ["public", "t_one"] and heads[1]["seq"] == 4
    assert _invoke(isolated, "verify", "--heads", str(heads_file)).exit_code == 0

    with engine.begin() as connection:  # someone without the key edits a row
        original = connection.scalar(text("SELECT details::text FROM t_one.audit_events WHERE seq = 2"))
        connection.execute(text("UPDATE t_one.audit_events SET details = '{\"n\": 42}' WHERE seq = 2"))
    tampered = _invoke(isolated, "verify")
    assert tampered.exit_code == 1 and "t_one seq 2: altered" in tampered.output

    with engine.begin() as connection:  # someone with the key rewrites the whole chain
        rows = connection.execute(text("SELECT * FROM t_one.audit_events ORDER BY seq")).mappings().all()
        prev = GENESIS
        for row in rows:
            digest = row_hash(key, "t_one", prev, row)
            connection.execute(
                text("UPDATE t_one.audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": digest, "id": row["id"]},
            )
            prev = digest
    assert _invoke(isolated, "verify").exit_code == 0  # consistent on its own
    rewritten = _invoke(isolated, "verify", "--heads", str(heads_file))
    assert rewritten.exit_code == 1 and "t_one seq 4: head_mismatch" in rewritten.output

    with engine.begin() as connection:  # put the original back for the next test
        connection.execute(
            text("UPDATE t_one.audit_events SET details = CAST(:d AS json) WHERE seq = 2"), {"d": original}
        )
        rows = connection.execute(text("SELECT * FROM t_one.audit_events ORDER BY seq")).mappings().all()
        prev = GENESIS
        for row in rows:
            digest = row_hash(key, "t_one", prev, row)
            connection.execute(
                text("UPDATE t_one.audit_events SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": digest, "id": row["id"]},
            )
            prev = digest
    assert _invoke(isolated, "verify", "--heads", str(heads_file)).exit_code == 0


def test_rows_older_than_the_chain_are_sealed(isolated):
    with owner_engine(isolated).begin() as connection:  # as migration s0004 leaves them
        connection.execute(
            text(
                "INSERT INTO public.audit_events (at, actor_label, action, details)"
                " VALUES (now(), 'ancien', 'tests.legacy', '{}')"
            )
        )
    unsealed = _invoke(isolated, "verify")
    assert unsealed.exit_code == 1 and "unchained" in unsealed.output
    sealed = _invoke(isolated, "seal")
    assert sealed.exit_code == 0 and sealed.output.startswith("1 row(s) sealed")
    assert _invoke(isolated, "verify").exit_code == 0
    assert _invoke(isolated, "seal").output.startswith("0 row(s)")


def test_the_daily_task_exports_the_heads(isolated, tmp_path, monkeypatch):
    from app.audit.tasks import export_heads

    monkeypatch.setitem(isolated.config, "MBOLO_DATA_DIR", tmp_path)
    assert export_heads() == 2  # run as the worker runs it (TenantTask, no tenant header)
    assert len((tmp_path / "audit-heads.jsonl").read_text().splitlines()) == 2
