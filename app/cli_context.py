"""The application for a CLI command: the current one (tests push one), else one from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context


@contextmanager
def cli_app() -> Iterator[Flask]:
    if has_app_context():
        yield current_app._get_current_object()  # type: ignore[attr-defined]
        return
    from app import create_app

    app = create_app()
    with app.app_context():
        yield app
