"""Phone numbers in E.164 (``phonenumbers``), Senegal by default: one spelling everywhere, so a number
typed "77 123 45 67" or "+221771234567" finds the same person."""

from __future__ import annotations

import phonenumbers
from flask_babel import lazy_gettext as _l

from app.errors import FieldError

DEFAULT_REGION = "SN"


def normalise_phone(raw: str | None, *, field: str = "phone", region: str = DEFAULT_REGION) -> str | None:
    """``None`` for an empty value; the E.164 form of a valid number; else ``FieldError`` on ``field``."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as bad:
        raise FieldError(field, _l("Numéro de téléphone invalide.")) from bad
    if not phonenumbers.is_valid_number(number):
        raise FieldError(field, _l("Numéro de téléphone invalide (exemple : 77 123 45 67)."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
