"""Celery: tasks carry their tenant in a message header and run inside that tenant's context.

``TenantTask.apply_async`` copies the caller's tenant (the session's context, or ``tenant=``) into the
``mbolo_tenant`` header; ``__call__`` re-enters the Flask app and that tenant's scope, then commits, or rolls
back on error (with ``acks_late``, a worker killed mid-task leaves the message to be redelivered).
Enqueues made during a request wait for its commit (``enqueue_after_commit``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from celery import Celery, Task
from flask import Flask, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

TENANT_HEADER = "mbolo_tenant"


class TenantTask(Task):
    abstract = True

    def apply_async(self, args: Any = None, kwargs: Any = None, **options: Any) -> Any:
        from app.extensions import db
        from tenants.context import current_tenant_of

        tenant = options.pop("tenant", None)
        if tenant is None and has_app_context():
            tenant = current_tenant_of(db.session)
        if tenant is not None:
            options["headers"] = {**(options.get("headers") or {}), TENANT_HEADER: tenant.slug}
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from app.extensions import db

        flask_app: Flask = self.app.flask_app  # type: ignore[attr-defined]
        slug = getattr(self.request, TENANT_HEADER, None) or (self.request.headers or {}).get(TENANT_HEADER)
        with flask_app.app_context():
            try:
                with self._scope(slug):
                    result = super().__call__(*args, **kwargs)
                    db.session.commit()
                return result
            except BaseException:
                db.session.rollback()
                raise

    def _scope(self, slug: str | None) -> AbstractContextManager[object]:
        """The tenant scope named by the header (none for platform-wide tasks)."""
        from app.extensions import db
        from tenants.context import TenantRef, tenant_scope
        from tenants.models import Tenant, TenantStatus

        if slug is None:
            return nullcontext()
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None or tenant.status is TenantStatus.archived:
            raise LookupError(f"task {self.name}: no active tenant {slug!r}")
        return tenant_scope(db.session, TenantRef.of(tenant))


celery = Celery("mbolo", task_cls=TenantTask)


def init_celery(flask_app: Flask) -> Celery:
    """Point the Celery app at the broker and at this Flask app."""
    from app.platform import broker_url

    celery.conf.update(
        broker_url=broker_url(flask_app.config, flask_app.extensions["mbolo_owner_url"]),
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        timezone="Africa/Dakar",
        imports=[
            "notifications.tasks",
            "app.audit.tasks",
            "app.members.tasks",
            "app.coverage.tasks",
            "app.contributions.tasks",
            "payments.tasks",
            "app.complaints.tasks",
            "app.care.tasks",
            "hierarchy.supervision.tasks",
            "app.reports.tasks",
        ],
    )
    celery.flask_app = flask_app  # type: ignore[attr-defined]
    flask_app.extensions["celery"] = celery
    return celery


def enqueue_after_commit(session: Session, task: Task, *args: Any, **kwargs: Any) -> None:
    """Send ``task`` only once the current transaction commits (never for work that rolled back)."""
    from tenants.context import current_tenant_of

    session.info.setdefault("mbolo_enqueue", []).append((task, args, kwargs, current_tenant_of(session)))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    for task, args, kwargs, tenant in session.info.pop("mbolo_enqueue", []):
        task.apply_async(args, kwargs, tenant=tenant)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, _previous: object) -> None:
    session.info.pop("mbolo_enqueue", None)
