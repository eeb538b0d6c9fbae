"""Every string the code shows has its English translation: the messages extracted from the source (as
``make i18n-extract`` does) are all translated in the English catalogue. A French text changed without its
translation would otherwise show in French to English readers."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "tenants", "hierarchy", "notifications", "portal", "payments")  # as the Makefile


def test_every_extracted_message_has_an_english_translation() -> None:
    with open(ROOT / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
    with open(ROOT / "app/translations/en/LC_MESSAGES/messages.po", "rb") as po:
        english = read_po(po)
    missing = set()
    for package in PACKAGES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / package, method_map, options_map, keywords=keywords
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            if not msgid:
                continue
            found = english.get(msgid)
            translated = found is not None and (
                all(found.string) if isinstance(found.string, tuple) else bool(found.string)
            )
            if not translated:
                missing.add(msgid)
    assert not missing, sorted(missing)
