"""``mbolo contributions``: generate dues now (what the Celery job does), for one tenant or all."""

from __future__ import annotations

import datetime as dt

import click

from app.cli_context import cli_app


@click.group()
def contributions() -> None:
    """Contributions: dues (appels de cotisation) and subsidy receivables."""


@contributions.command("generate-dues")
@click.option("--tenant", "slug", help="Slug of one mutual (default: every active mutual)")
@click.option(
    "--through",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Last day a period may start on (default: end of the current month)",
)
def generate_dues_command(slug: str | None, through: dt.datetime | None) -> None:
    """Create the dues not yet there (idempotent), then refresh the funders' receivables; one line per
    mutual."""
    from sqlalchemy import select

    from app.contributions.dues import generate_dues, refresh_subsidy_receivables
    from app.contributions.tasks import default_through
    from app.extensions import db
    from app.security.actor import Actor
    from tenants.context import TenantRef
    from tenants.models import Tenant, TenantStatus

    with cli_app():
        day = through.date() if through else default_through()
        query = select(Tenant).order_by(Tenant.slug)
        query = (
            query.where(Tenant.slug == slug) if slug else query.where(Tenant.status == TenantStatus.active)
        )
        refs = [TenantRef.of(t) for t in db.session.scalars(query)]
        db.session.commit()
        if not refs:
            raise click.ClickException(f"no mutual {slug!r}" if slug else "no active mutual")
        actor = Actor.system("cli")
        for ref in refs:
            report = generate_dues(db.session, ref, through=day, actor=actor)
            if report.first_period is not None:
                refresh_subsidy_receivables(db.session, ref, since=report.first_period, actor=actor)
                db.session.commit()
            click.echo(
                f"{ref.slug}: {report.created} created, {report.skipped} already there "
                f"(through {day.isoformat()}, {report.subscriptions} subscriptions, "
                f"{report.joining_fees} joining fees)"
            )
