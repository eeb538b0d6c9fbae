"""The business date. Rights, dues and arrears depend on "today"; tests (and the demo) set it through the
``MBOLO_TODAY`` setting (ISO date) instead of patching the system clock."""

from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context

from app.database import local_today


def today() -> dt.date:
    """``MBOLO_TODAY`` when set (tests, demo), else today in Senegal."""
    if has_app_context():
        fixed = current_app.config.get("MBOLO_TODAY")
        if fixed:
            return fixed if isinstance(fixed, dt.date) else dt.date.fromisoformat(str(fixed))
    return local_today()
