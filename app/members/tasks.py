"""Celery jobs of the member register: the import of a register runs here, in the import's tenant."""

from __future__ import annotations

from app.errors import DomainError
from app.extensions import db
from app.security.actor import Actor
from app.worker import celery
from tenants.context import current_tenant_of


@celery.task(name="members.run_import")
def run_member_import(public_id: str, account_id: int | None = None) -> str:
    """Run (or resume) one import as the person who launched it; progress is committed batch by batch."""
    from app.members import imports

    tenant = current_tenant_of(db.session)
    assert tenant is not None, "members.run_import needs its tenant header"
    try:
        actor = imports.job_actor(db.session, account_id)
    except DomainError as refused:
        imports.fail(db.session, Actor.system("import"), public_id, refused.message)
        raise
    return imports.run_import(db.session, tenant, actor, public_id).status.value
