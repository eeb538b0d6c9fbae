"""``mbolo audit``: verify the hash chains, export their heads (daily, see infra/systemd), seal old rows."""

from __future__ import annotations

import json
from pathlib import Path

import click

from app.cli_context import cli_app


@click.group()
def audit() -> None:
    """Audit log: verify the hash chains, export their heads."""


@audit.command("verify")
@click.option(
    "--heads",
    "heads_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Heads exported earlier (export-heads): each must still be in its chain, unchanged.",
)
def verify(heads_file: Path | None) -> None:
    """Recompute every chain (public, then each tenant); exit 1 on any problem."""
    from app.audit.services import read_heads, verify_all
    from app.platform import owner_engine

    with cli_app() as app:
        try:
            heads = read_heads(heads_file) if heads_file else None
        except ValueError as error:
            raise click.ClickException(str(error)) from error
        reports = verify_all(owner_engine(app), app.config["MBOLO_AUDIT_KEY"], heads)
    width = max([len("chain"), *(len(r.chain) for r in reports)])
    click.echo(f"{'chain':<{width}}  {'rows':>9}  {'problems':>8}  status")
    for report in reports:
        status = "ok" if not report.problems else "TAMPERED"
        click.echo(f"{report.chain:<{width}}  {report.rows:>9}  {len(report.problems):>8}  {status}")
    problems = [p for r in reports for p in r.problems]
    for problem in problems:
        click.echo(f"  {problem}")
    if heads_file:
        click.echo(f"Heads checked against {heads_file}.")
    click.get_current_context().exit(1 if problems else 0)


@audit.command("export-heads")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to append to (default: MBOLO_DATA_DIR/audit-heads.jsonl).",
)
def export_heads(out: Path | None) -> None:
    """Append the head (last seq and hash) of every chain to a JSON-lines file, and print it.

    Copy the file off this server (or let the journal ship the printed lines): a head kept out of reach
    of the database's administrators is what reveals a chain rewritten from its start."""
    from app.audit import services
    from app.platform import owner_engine

    with cli_app() as app:
        path = out or services.default_heads_path()
        heads = services.export_heads(owner_engine(app), path)
    for head in heads:
        click.echo(json.dumps(head, sort_keys=True))
    click.echo(f"{len(heads)} head(s) appended to {path}", err=True)


@audit.command("seal")
def seal() -> None:
    """Chain the public rows that have no place in the chain yet (also done by `mbolo db upgrade`)."""
    from app.audit.services import seal_unchained
    from app.platform import owner_engine

    with cli_app() as app:
        sealed = seal_unchained(owner_engine(app), app.config["MBOLO_AUDIT_KEY"])
    click.echo(f"{sealed} row(s) sealed into the public chain.")
