"""Both histories up and down, on a database of their own."""

from sqlalchemy import text

from app import create_app
from app.platform import owner_engine
from app.security.actor import Actor
from migrations.runner import SHARED, TENANT, downgrade_all, head, pending_schemas, upgrade_all
from tests.fixtures.database import app_overrides, reset_database


def _revisions(location):
    """Revision ids from head down to the first one."""
    from alembic.script import ScriptDirectory

    return [r.revision for r in ScriptDirectory(str(location)).walk_revisions()]


def _tables(engine, schema):
    with engine.connect() as connection:
        return set(
            connection.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": schema})
        )


def test_upgrade_downgrade_upgrade_everywhere():
    from app.extensions import db
    from hierarchy import services as hierarchy
    from hierarchy.services import NodeDetails
    from tenants.services import create_tenant

    app = create_app(app_overrides(reset_database("mbolo_test_mig")))
    engine = owner_engine(app)
    lines = []
    upgrade_all(engine, report=lines.append)
    system = Actor.system("tests")
    with app.app_context():
        ministry = hierarchy.create_root(db.session, system, code="MIN", details=NodeDetails(name="M"))
        hierarchy.create_child(
            db.session, system, parent=ministry, code="FED-1", details=NodeDetails(name="F")
        )
        db.session.commit()
        create_tenant(engine, system, slug="one", name="One", sector="commerce", federation_code="FED-1")
    assert pending_schemas(engine) == []
    assert "outbox_messages" in _tables(engine, "t_one")

    # Every revision down, one step at a time, until public is at its first one (the registry stays while
    # tenants exist), then everything back up: each downgrade and upgrade really runs.
    public_chain, tenant_chain = _revisions(SHARED), _revisions(TENANT)
    for step in range(1, len(public_chain)):
        steps = downgrade_all(engine, report=lambda _s: None)
        tenant_after = tenant_chain[step] if step < len(tenant_chain) else None
        expected = [("t_one", tenant_after), ("public", public_chain[step])]
        assert [(s.schema, s.after) for s in steps] == expected
    assert "accounts" not in _tables(engine, "public") and "tenants" in _tables(engine, "public")
    assert set(pending_schemas(engine)) == {"public"}

    steps = upgrade_all(engine, report=lambda _s: None)
    assert [(s.schema, s.after) for s in steps] == [("public", head(SHARED)), ("t_one", head(TENANT))]
    assert pending_schemas(engine) == []
    engine.dispose()
