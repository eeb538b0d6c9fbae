"""The database itself refuses cross-tenant access: not only the ORM, raw SQL too."""

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session
from sqlalchemy.pool import QueuePool

from app.extensions import db
from notifications.models import OutboxMessage
from tenants.context import NoTenantContext, tenant_scope


def _write_message(session, tenant, body):
    with tenant_scope(session, tenant):
        message = OutboxMessage(channel="sms", recipient="+221770000000", body=body)
        session.add(message)
        session.commit()
        return message.id, message.public_id


def test_cross_tenant_read_by_id_finds_nothing_in_the_other_tenant(session, world):
    message_id, public_id = _write_message(session, world.alpha, "pour alpha")
    with tenant_scope(session, world.beta):
        same_id = session.get(OutboxMessage, message_id)
        assert same_id is None or same_id.public_id != public_id
        found = session.scalar(select(OutboxMessage).where(OutboxMessage.public_id == public_id))
        assert found is None
    with tenant_scope(session, world.alpha):
        assert session.scalar(select(OutboxMessage.body).where(OutboxMessage.public_id == public_id)) == (
            "pour alpha"
        )


def test_raw_sql_on_another_tenant_schema_is_denied_by_postgresql(session, world):
    _write_message(session, world.alpha, "secret alpha")
    with tenant_scope(session, world.beta), pytest.raises(ProgrammingError, match="permission denied"):
        session.execute(text("SELECT body FROM t_alpha.outbox_messages"))


def test_raw_sql_cannot_write_into_another_tenant_schema(session, world):
    with (
        tenant_scope(session, world.beta),
        pytest.raises(ProgrammingError, match="permission denied"),
    ):
        session.execute(text("DELETE FROM t_alpha.outbox_messages"))


def test_orm_query_without_tenant_context_raises_a_clear_error(session):
    with pytest.raises(NoTenantContext, match="tenant_scope"):
        session.scalars(select(OutboxMessage)).all()


def test_orm_write_without_tenant_context_raises_a_clear_error(session):
    session.add(OutboxMessage(channel="sms", recipient="x", body="y"))
    with pytest.raises(NoTenantContext):
        session.flush()


def test_raw_sql_without_tenant_context_is_denied(session, world):
    with pytest.raises(ProgrammingError, match="permission denied"):
        session.execute(text("SELECT * FROM t_alpha.outbox_messages"))
    session.rollback()
    with pytest.raises(ProgrammingError, match="does not exist"):
        session.execute(text("SELECT * FROM outbox_messages"))


def test_runtime_role_cannot_reset_to_a_superuser(session):
    with pytest.raises(DBAPIError, match="permission denied"):
        session.execute(text("SET ROLE postgres"))


def test_context_does_not_survive_an_exception_on_a_pooled_connection(app, world):
    """Same physical connection (pool of one): after an error in tenant A, nothing of A remains."""
    with app.app_context():
        url = db.engine.url
    one_connection = create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0)
    try:
        with Session(one_connection) as s:
            with tenant_scope(s, world.alpha):
                backend_pid = s.scalar(text("SELECT pg_backend_pid()"))
                assert s.scalar(text("SELECT current_user")) == world.alpha.role
                with pytest.raises(ProgrammingError):
                    s.execute(text("SELECT * FROM no_such_table"))
            s.rollback()
            assert s.scalar(text("SELECT pg_backend_pid()")) == backend_pid  # the same connection
            assert s.scalar(text("SELECT current_user")) != world.alpha.role
            assert "t_alpha" not in s.scalar(text("SHOW search_path"))
            with pytest.raises(ProgrammingError, match="permission denied"):
                s.execute(text("SELECT * FROM t_alpha.outbox_messages"))
    finally:
        one_connection.dispose()


def test_context_ends_with_the_transaction_even_if_set_in_the_middle(session, world):
    with tenant_scope(session, world.alpha):
        assert session.scalar(text("SELECT current_user")) == world.alpha.role
    assert session.scalar(text("SELECT current_user")) != world.alpha.role
    session.commit()
    assert "t_alpha" not in session.scalar(text("SHOW search_path"))


def test_objects_of_one_tenant_never_answer_for_another_after_a_switch(session, world):
    """Ids repeat across schemas, so the session's identity map must not carry A's rows into B."""
    with tenant_scope(session, world.alpha):
        mine = OutboxMessage(channel="sms", recipient="+221770000009", body="reste chez alpha")
        session.add(mine)
        session.flush()
        message_id = mine.id
    with tenant_scope(session, world.beta):
        seen = session.get(OutboxMessage, message_id)
        assert seen is None or seen.body != "reste chez alpha"
