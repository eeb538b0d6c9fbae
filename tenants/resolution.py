"""Request → tenant: by URL prefix ``/<slug>/…`` (the embedded default) or by host (MBOLO_TENANT_HOSTS)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, abort, g
from sqlalchemy import select

from app.extensions import db
from tenants.context import TenantRef, bind_tenant
from tenants.errors import TenantUnavailable
from tenants.models import Tenant, TenantStatus
from tenants.slugs import RESERVED_SLUGS, SLUG_PATTERN


def current_tenant() -> TenantRef:
    return g.tenant


def _refuse_outsiders(tenant: Tenant) -> None:
    """Staff reach a mutual's pages only with a grant on its fédération's branch (above it, or within it);
    anyone else gets 403, recorded as a cross-tenant attempt. Public pages (card checks) and the member portal
    (its own sign-in, per mutual) stay open."""
    from flask import current_app, request
    from flask_login import current_user

    from app.security.permissions import MEMBER, PUBLIC, current_actor

    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "permission", None) in (PUBLIC, MEMBER) or not current_user.is_authenticated:
        return
    actor, branch = current_actor(), tenant.federation.path
    if actor.is_platform_admin or any(
        path.startswith(branch) or branch.startswith(path) for path, _ in actor.scopes
    ):
        return
    g.tenant_record = tenant  # the denial is recorded against this mutual
    abort(403)


def install_resolution(bp: Blueprint) -> None:
    """Make ``bp`` (mounted at ``/<tenant_slug>``) run every view in that tenant's context."""

    @bp.url_value_preprocessor
    def resolve(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        slug = (values or {}).pop("tenant_slug", "")
        if not SLUG_PATTERN.fullmatch(slug):
            abort(404)
        tenant = db.session.scalar(select(Tenant).where(Tenant.slug == slug))
        if tenant is None:
            abort(404)
        if tenant.status is not TenantStatus.active:
            raise TenantUnavailable(tenant)
        _refuse_outsiders(tenant)
        g.tenant = TenantRef.of(tenant)
        g.tenant_record = tenant
        bind_tenant(db.session, g.tenant)

    @bp.url_defaults
    def add_slug(_endpoint: str, values: dict[str, Any]) -> None:
        if "tenant_slug" not in values and "tenant" in g:
            values["tenant_slug"] = g.tenant.slug


class TenantHostMiddleware:
    """On a tenant's own host, ``/x`` is served as ``/<slug>/x`` (platform paths are left alone)."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], hosts: dict[str, str]) -> None:
        self.wsgi_app, self.hosts = wsgi_app, hosts

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        host = (environ.get("HTTP_HOST") or "").split(":")[0].lower()
        slug = self.hosts.get(host)
        if slug:
            path = environ.get("PATH_INFO") or "/"
            first = path.lstrip("/").split("/", 1)[0]
            if first != slug and first not in RESERVED_SLUGS:
                environ["PATH_INFO"] = f"/{slug}{path}"
        return self.wsgi_app(environ, start_response)
