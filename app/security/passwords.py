"""Password policy after NIST SP 800-63B (5.1.1.2): length and a blocklist, no composition rules.

Long passphrases in any script are welcome (spaces, accents, Wolof or Arabic letters); what is refused is
what attackers try first: short passwords, common or breached ones (Django's list of 20,000, see
``data/NOTICE``), the person's own name or e-mail, the service's name, repetitions and sequences.
Passwords are NFKC-normalised before they are checked and before they are hashed, so the same passphrase
typed on two keyboards (composed or decomposed accents, full-width digits) is the same password.
"""

from __future__ import annotations

import functools
import gzip
import re
import unicodedata
from importlib import resources

from flask_babel import lazy_gettext as _l

from app.errors import FieldError

MIN_LENGTH = 10
MAX_LENGTH = 128
#: Context-specific words (NIST: "the name of the service"), refused anywhere in a password.
CONTEXT_WORDS = ("mbolo",)
#: Name and e-mail parts shorter than this are too common to refuse ("awa", "ba").
_MIN_PERSONAL_PART = 4
_NON_LETTERS = re.compile(r"[\W\d_]+")
_TRAILING_DECORATION = re.compile(r"[\d\W_]+$")
#: Sequences people type instead of a password: digits and letters in order, keyboard rows (AZERTY, QWERTY).
_RUNS = (
    "0123456789" * 14,
    "abcdefghijklmnopqrstuvwxyz" * 6,
    "azertyuiopqsdfghjklmwxcvbn",
    "qwertyuiopasdfghjklzxcvbnm",
)


def normalise(password: str) -> str:
    """NFKC form of ``password``: call it before hashing and before verifying."""
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list, lowercased; loaded once, on first use."""
    data = resources.files("app.security").joinpath("data", "common-passwords.txt.gz").read_bytes()
    return frozenset(filter(None, (line.strip() for line in gzip.decompress(data).decode().splitlines())))


def _fold(text: str) -> str:
    """Lowercase without accents, to compare "Aïssatou" with "aissatou"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _personal_parts(email: str | None, full_name: str | None) -> set[str]:
    """The whole e-mail local part and each word of it and of the name, accent-folded, 4+ letters."""
    local = _fold((email or "").partition("@")[0])
    words = [local, *_NON_LETTERS.split(local), *_NON_LETTERS.split(_fold(full_name or ""))]
    return {word for word in words if len(word) >= _MIN_PERSONAL_PART}


def _is_trivial(password: str) -> bool:
    """A short unit repeated ("aaaaaaaaaa", "abcabcabca") or a run ("1234567890", "zyxwvu…", "azerty…")."""
    for size in range(1, 5):
        if (password[:size] * (len(password) // size + 1)).startswith(password):
            return True
    compact = password.replace(" ", "")
    return any(compact in run or compact in run[::-1] for run in _RUNS)


def check_password(password: str, *, email: str | None = None, full_name: str | None = None) -> None:
    """Refuse a password an attacker would guess early; raise ``FieldError("password", …)`` saying why."""
    password = normalise(password or "")
    if len(password) < MIN_LENGTH:
        raise FieldError(
            "password",
            _l(
                "Le mot de passe doit compter au moins %(n)d caractères. Une phrase de plusieurs mots, "
                "facile à retenir, convient très bien.",
                n=MIN_LENGTH,
            ),
        )
    if len(password) > MAX_LENGTH:
        raise FieldError(
            "password", _l("Le mot de passe ne doit pas dépasser %(n)d caractères.", n=MAX_LENGTH)
        )
    lowered = password.casefold()
    undecorated = _TRAILING_DECORATION.sub("", lowered)
    common = common_passwords()
    if lowered in common or lowered.replace(" ", "") in common or undecorated in common:
        raise FieldError(
            "password",
            _l(
                "Ce mot de passe est trop courant (il figure parmi les plus utilisés). "
                "Choisissez-en un autre."
            ),
        )
    if _is_trivial(lowered):
        raise FieldError(
            "password",
            _l("Le mot de passe ne doit pas être une répétition ni une suite (comme « 1234567890 »)."),
        )
    folded = _fold(password)
    if any(part in folded for part in _personal_parts(email, full_name)):
        raise FieldError(
            "password", _l("Le mot de passe ne doit contenir ni votre nom ni votre adresse e-mail.")
        )
    if any(word in folded for word in CONTEXT_WORDS):
        raise FieldError("password", _l("Le mot de passe ne doit pas contenir le nom du service (Mbolo)."))
