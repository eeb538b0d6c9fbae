"""Both histories up and down, on a database of their own."""

from sqlalchemy import text

from app import create_app
from app.platform import owner_engine
from app.security.actor import Actor
from migrations.runner import SHARED, TENANT, downgrade_all, head, pending_schemas, upgrade_all
from tests.fixtures.database import app_overrides, reset_database


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

    steps = downgrade_all(engine, report=lambda _s: None)
    assert [(s.schema, s.before, s.after) for s in steps] == [
        ("t_one", head(TENANT), "t0001"),
        ("public", head(SHARED), "s0001"),
    ]
    assert "outbox_messages" not in _tables(engine, "t_one") and "settings" in _tables(engine, "t_one")
    assert "accounts" not in _tables(engine, "public") and "tenants" in _tables(engine, "public")
    assert set(pending_schemas(engine)) == {"public"}

    steps = upgrade_all(engine, report=lambda _s: None)
    assert [(s.schema, s.after) for s in steps] == [("public", head(SHARED)), ("t_one", head(TENANT))]
    assert pending_schemas(engine) == []
    engine.dispose()
