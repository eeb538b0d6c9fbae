"""``mbolo``: the operator's command (database, tenants, demo, run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import Flask

from app.config import data_dir


def _app() -> Flask:
    from app import create_app

    return create_app()


def _report(step: object) -> None:
    click.echo(f"  {step.schema:<24} {step.before or '(vide)':>8} → {step.after or '(vide)'}")  # type: ignore[attr-defined]


@click.group()
def main() -> None:
    """Mbolo — système d'information des mutuelles sociales."""


@main.group()
def db() -> None:
    """Database: migrations and the embedded server."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate public, then every tenant schema, to head (one line per schema)."""
    from app.audit.services import seal_unchained
    from app.platform import owner_engine
    from migrations.runner import upgrade_all

    app = _app()
    click.echo("Migrations :")
    upgrade_all(owner_engine(app), app_password=app.config["MBOLO_APP_DB_PASSWORD"], report=_report)
    # Audit rows older than the chain (or written by the previous code during the upgrade): needs the key.
    if sealed := seal_unchained(owner_engine(app), app.config["MBOLO_AUDIT_KEY"]):
        click.echo(f"Audit: {sealed} row(s) sealed into the public chain.")


@db.command("downgrade")
def db_downgrade() -> None:
    """Step every tenant schema, then public, back one revision."""
    from app.platform import owner_engine
    from migrations.runner import MigrationRefused, downgrade_all

    try:
        downgrade_all(owner_engine(_app()), report=_report)
    except MigrationRefused as refusal:
        raise click.ClickException(str(refusal)) from refusal


@db.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (no-op with DATABASE_URL)."""
    from app import embedded_pg

    if os.environ.get("DATABASE_URL"):
        click.echo("DATABASE_URL is set: nothing to start.")
        return
    url = embedded_pg.start(data_dir())
    click.echo(f"Embedded PostgreSQL running (socket {url.query['host']}).")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL cleanly."""
    from app import embedded_pg

    stopped = embedded_pg.stop(data_dir())
    click.echo("Embedded PostgreSQL stopped." if stopped else "Embedded PostgreSQL was not running.")


@main.group()
def tenant() -> None:
    """Tenants (one mutual per sector)."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", required=True)
@click.option("--sector", required=True)
@click.option("--federation", "federation_code", required=True, help="Code of the fédération node")
def tenant_create(slug: str, name: str, sector: str, federation_code: str) -> None:
    """Create a tenant under a fédération: registry row, role and schema at head."""
    import time

    from app.errors import DomainError
    from app.platform import owner_engine
    from app.security.actor import Actor
    from tenants.services import create_tenant

    app = _app()
    with app.app_context():
        started = time.perf_counter()
        try:
            ref = create_tenant(
                owner_engine(app),
                Actor.system("cli"),
                slug=slug,
                name=name,
                sector=sector,
                federation_code=federation_code,
            )
        except DomainError as error:
            raise click.ClickException(str(error.message)) from error
        elapsed = time.perf_counter() - started
    click.echo(f"Tenant {ref.slug} created (schema {ref.schema}, role {ref.role}) in {elapsed:.2f} s")


@tenant.command("list")
def tenant_list() -> None:
    """List tenants with their status and schema."""
    from app.extensions import db as database
    from app.security.actor import Actor
    from tenants.services import list_tenants

    app = _app()
    with app.app_context():
        for t in list_tenants(database.session, Actor.system("cli")):
            click.echo(
                f"{t.slug:<20} {t.status.value:<10} {t.schema_name:<24} {t.federation.code:<12} {t.name}"
            )


def _status_command(name: str, status: str, help_text: str) -> None:
    @tenant.command(name, help=help_text)
    @click.argument("slug")
    @click.option("--reason", required=True, help="Why (kept in the audit log)")
    def command(slug: str, reason: str) -> None:
        from app.errors import DomainError
        from app.extensions import db as database
        from app.security.actor import Actor
        from tenants.models import TenantStatus
        from tenants.services import change_status, get_tenant

        app = _app()
        with app.app_context():
            try:
                tenant_row = get_tenant(database.session, slug)
                change_status(database.session, Actor.system("cli"), tenant_row, TenantStatus(status), reason)
                database.session.commit()
            except DomainError as error:
                raise click.ClickException(str(error.message)) from error
        click.echo(f"Tenant {slug}: {status}")


_status_command("suspend", "suspended", "Suspend a tenant (clear page for its users; data kept).")
_status_command("activate", "active", "Reactivate a suspended tenant.")
_status_command("archive", "archived", "Archive a tenant for good (data kept).")


@main.command("demo")
def demo() -> None:
    """Load the demo hierarchy, tenants and accounts (idempotent)."""
    from app.demo import demo_password, load_demo

    app = _app()
    with app.app_context():
        logins = load_demo(app)
    click.echo(f"Demo ready. Sign-ins (password: {demo_password()}):")
    for login in logins:
        click.echo(f"  {login.email:<34} {login.role}")


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@main.command("run")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--no-worker", is_flag=True, help="Do not start the Celery worker")
def run(host: str, port: int, no_worker: bool) -> None:
    """Serve the platform with a Celery worker; stop both and the embedded database on Ctrl-C."""
    from werkzeug.serving import run_simple

    from app import embedded_pg

    app = _app()
    worker = None
    if not no_worker:
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "app.celery_main:celery",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
            ],
            env=os.environ.copy(),
        )
    click.echo(f"\nMbolo: http://{host}:{port}/  (Ctrl-C to stop)\n")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # systemd/kill: stop as cleanly as Ctrl-C
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        if not app.config["DATABASE_URL"]:
            embedded_pg.stop(Path(str(app.config["MBOLO_DATA_DIR"])))
            click.echo("Embedded PostgreSQL stopped.")


from app.security.cli import admin, keys  # noqa: E402 - the groups live with what they manage

main.add_command(keys)
main.add_command(admin)

from app.audit.cli import audit  # noqa: E402 - verify, export-heads, seal

main.add_command(audit)

from app.api.cli import api  # noqa: E402 - mbolo api client create | revoke | list

main.add_command(api)

from app.contributions.cli import contributions  # noqa: E402 - mbolo contributions generate-dues

main.add_command(contributions)
