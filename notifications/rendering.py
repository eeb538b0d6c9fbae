"""Message texts per event and locale: Jinja text templates in ``templates/notifications/messages/<locale>/``.

One file per event and locale holds up to three blocks: ``sms`` (short: under 160 GSM characters), ``subject``
and ``body`` (the e-mail and the in-portal message; ``body`` falls back to ``sms``). A locale without its own
file for an event (Wolof has the welcome only) falls back to French. Amounts and dates are formatted in the
message's locale; SMS texts are reduced to the GSM 03.38 alphabet (accents the alphabet lacks are dropped)
so a message costs one SMS, not three UCS-2 parts."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

LOCALES = ("fr", "en", "wo")
DEFAULT_LOCALE = "fr"
MESSAGES = Path(__file__).resolve().parent / "templates" / "notifications" / "messages"

#: Member events and the context keys each needs (the contract with the modules that notify).
MEMBER_EVENTS: dict[str, tuple[str, ...]] = {
    "portal.sign_in_code": ("code", "minutes"),
    "portal.welcome": (),
    "payment.received": ("amount", "receipt_number"),
    "due.reminder": ("amount", "due_on"),
    "rights.opened": ("reason",),
    "rights.suspended": ("reason",),
    "complaint.updated": ("reference", "status_label", "message"),
    "care.letter_issued": ("number", "provider_name"),
}
#: Staff events and their context keys.
STAFF_EVENTS: dict[str, tuple[str, ...]] = {
    "complaint.escalated": ("reference", "level_label", "node_name"),
    "supervision.alert": ("title", "node_name", "detail"),
    "care.ceiling_near": ("member_number", "benefit_label", "remaining"),
}
#: Babel locales used for numbers and dates.
_BABEL = {"fr": "fr_SN", "en": "en", "wo": "wo_SN"}

#: GSM 03.38 default alphabet and its extension table (each extension character costs two septets).
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "^{}\\[~]|€\f"
_GSM = frozenset(GSM_BASIC) | frozenset(GSM_EXTENSION)
_REPLACEMENTS = {
    "\u202f": " ",
    "\u00a0": " ",
    "’": "'",
    "‘": "'",
    "«": '"',
    "»": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "°": "o",
}


@dataclass(frozen=True)
class Rendered:
    locale: str
    sms: str
    subject: str
    body: str


def normalise_locale(locale: str | None) -> str:
    value = (locale or DEFAULT_LOCALE).split("_")[0].split("-")[0].lower()
    return value if value in LOCALES else DEFAULT_LOCALE


def _money(amount: Any, locale: str) -> str:
    return format_currency(int(amount), "XOF", locale=_BABEL.get(locale, "fr_SN"))


def _date(value: Any, locale: str) -> str:
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(
        value, format="d MMM y" if locale == "en" else "d/MM/y", locale=_BABEL.get(locale, "fr")
    )


_environment = Environment(
    loader=FileSystemLoader(str(MESSAGES)),
    undefined=StrictUndefined,
    autoescape=False,  # noqa: S701 -- plain text: SMS and text e-mails (never inserted into HTML unescaped)
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
)


def _template(event: str, locale: str) -> tuple[Any, str]:
    for candidate in (locale, DEFAULT_LOCALE):
        try:
            return _environment.get_template(f"{candidate}/{event}.txt"), candidate
        except TemplateNotFound:
            continue
    raise LookupError(f"no message template for event {event!r}")


def _block(template: Any, name: str, context: Any) -> str:
    render = template.blocks.get(name)
    if render is None:
        return ""
    return " ".join("".join(render(context)).split()) if name != "body" else "".join(render(context)).strip()


def render(event: str, locale: str | None, context: dict[str, Any]) -> Rendered:
    """The event's texts in ``locale`` (or French), with ``context`` (see MEMBER_EVENTS / STAFF_EVENTS)."""
    required = MEMBER_EVENTS.get(event, STAFF_EVENTS.get(event))
    if required is None:
        raise ValueError(f"unknown notification event {event!r}")
    missing = [key for key in required if key not in context]
    if missing:
        raise ValueError(f"event {event!r} needs context keys {missing}")
    template, used = _template(event, normalise_locale(locale))
    values = {
        **context,
        "money": lambda amount: _money(amount, used),
        "date": lambda value: _date(value, used),
    }
    jinja_context = template.new_context(values)
    sms = to_gsm(_block(template, "sms", jinja_context))
    body = _block(template, "body", jinja_context) or sms
    subject = _block(template, "subject", jinja_context)
    return Rendered(locale=used, sms=sms, subject=subject, body=_plain_spaces(body))


def _plain_spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def to_gsm(text: str) -> str:
    """``text`` in the GSM 03.38 alphabet: typographic signs replaced, other accents dropped (ê → e)."""
    out = []
    for char in text:
        char = _REPLACEMENTS.get(char, char)
        if all(c in _GSM for c in char):
            out.append(char)
            continue
        stripped = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c) and c in _GSM
        )
        out.append(stripped or "?")
    return "".join(out)


def gsm_length(text: str) -> int:
    """Septets used by ``text`` (extension characters count twice); None-GSM characters are not expected."""
    return sum(2 if c in GSM_EXTENSION else 1 for c in text)


def is_gsm(text: str) -> bool:
    return all(c in _GSM for c in text)
