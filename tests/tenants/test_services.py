import pytest
from sqlalchemy import select, text

from app.errors import FieldError
from app.platform import owner_engine
from migrations.runner import TENANT, current_revision, head
from tenants.errors import TenantTransitionRefused
from tenants.models import TenantStatus
from tenants.services import change_status, get_tenant
from tests.fixtures.app import SYSTEM


def test_create_tenant_provisions_a_schema_owned_by_its_own_role_at_head(app, session, create_mutual):
    ref = create_mutual("transport", sector="transport")
    owner = session.scalar(
        text("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :s"), {"s": ref.schema}
    )
    assert (ref.schema, owner) == ("t_transport", ref.role)
    with owner_engine(app).connect() as connection:
        connection.exec_driver_sql(f'SET ROLE "{ref.role}"')
        assert current_revision(connection, ref.schema) == head(TENANT)
    assert get_tenant(session, "transport").status is TenantStatus.active


def test_create_tenant_refuses_a_taken_slug_and_a_federation_that_has_its_mutual(world, create_mutual):
    with pytest.raises(FieldError) as taken:
        create_mutual("alpha")
    assert taken.value.field == "slug"
    with pytest.raises(FieldError) as federation_taken:
        create_mutual("other", federation_code=world.federation_a)
    assert federation_taken.value.field == "federation"


def test_create_tenant_only_under_a_federation(world, create_mutual):
    with pytest.raises(FieldError) as refused:
        create_mutual("ligue", federation_code=world.league_a)
    assert refused.value.field == "federation"


def test_injected_slug_creates_nothing(session, create_mutual):
    for slug in ("a;drop schema public", "x'--", 'q"q', "é"):
        with pytest.raises(FieldError):
            create_mutual(slug)
    assert session.scalar(text("SELECT to_regclass('public.tenants')")) is not None
    assert session.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't_a%drop%'")) == 0


def test_failed_provisioning_leaves_no_registry_row_role_or_schema(session, create_mutual, monkeypatch):
    import tenants.services as services

    def explode(connection, tenant):
        connection.exec_driver_sql(f'CREATE SCHEMA "{tenant.schema}"')
        raise RuntimeError("power cut")

    monkeypatch.setattr(services, "provision_schema", explode)
    with pytest.raises(RuntimeError):
        create_mutual("halfway")
    assert session.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = 't_halfway'")) == 0
    assert session.scalar(text("SELECT count(*) FROM public.tenants WHERE slug = 'halfway'")) == 0


def test_suspend_reactivate_archive_keep_the_data_and_are_audited(session, create_mutual):
    from app.audit.models import AuditEvent

    ref = create_mutual("cycle")
    tenant = get_tenant(session, "cycle")
    change_status(session, SYSTEM, tenant, TenantStatus.suspended, "cotisations impayées")
    change_status(session, SYSTEM, tenant, TenantStatus.active, "régularisé")
    change_status(session, SYSTEM, tenant, TenantStatus.archived, "fusion")
    session.commit()
    with pytest.raises(TenantTransitionRefused):
        change_status(session, SYSTEM, tenant, TenantStatus.active, "retour")
    with pytest.raises(FieldError):
        change_status(session, SYSTEM, get_tenant(session, "alpha"), TenantStatus.suspended, " ")
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.tenant_slug == "cycle").order_by(AuditEvent.id)
    ).all()
    assert actions == ["tenants.created", "tenants.suspended", "tenants.active", "tenants.archived"]
    assert (
        session.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": ref.schema}) == 1
    )
