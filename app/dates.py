"""Dates as people type them: JJ/MM/AAAA (also with dots or dashes), or ISO as a date input sends it."""

from __future__ import annotations

import datetime as dt
import re

from flask_babel import lazy_gettext as _l

from app.errors import FieldError

_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def parse_day(raw: str | None, field: str) -> dt.date:
    """The date, or a ``FieldError`` on ``field`` saying what is wrong."""
    value = (raw or "").strip()
    parts = _DAY_FIRST.fullmatch(value) or _ISO.fullmatch(value)
    if parts is None:
        raise FieldError(field, _l("Date attendue au format JJ/MM/AAAA."))
    numbers = [int(p) for p in parts.groups()]
    day, month, year = numbers if parts.re is _DAY_FIRST else reversed(numbers)
    try:
        return dt.date(year, month, day)
    except ValueError as bad:
        raise FieldError(field, _l("Cette date n'existe pas.")) from bad
