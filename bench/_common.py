"""What every bench script shares: an app on a fresh database of its own (embedded PostgreSQL) and the
figure / value / target / verdict table printed at the end."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def fresh_app(database: str, **config: Any) -> Any:
    """A Flask app on the database ``database``, dropped and created empty first; ``config`` overrides."""
    from app import create_app
    from tests.fixtures.database import app_overrides, reset_database

    return create_app({**app_overrides(reset_database(database)), **config})


def print_table(rows: Iterable[tuple[str, object, object, bool | None]]) -> None:
    """One line per figure; the verdict is PASS / FAIL, or blank for a figure without a target."""
    rows = [(str(name), str(value), str(target), ok) for name, value, target, ok in rows]
    widths = [max(len(row[i]) for row in [("figure", "value", "target", None), *rows]) for i in range(3)]
    print(f"{'figure':<{widths[0]}} {'value':>{widths[1]}} {'target':>{widths[2]}}  verdict")
    for name, value, target, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{name:<{widths[0]}} {value:>{widths[1]}} {target:>{widths[2]}}  {verdict}")
