"""Member numbers: ``ART-004512-00-C`` — the mutual's prefix, the household's sequence, the person's rank in
the household (00 = the adhérent) and an ISO 7064 Mod 37,36 check character (python-stdnum), so a mistyped
character or two swapped characters are caught before any lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum.iso7064 import mod_37_36

_SHAPE = re.compile(r"^([A-Z]{2,5})(\d{6})(\d{2})([0-9A-Z])$")


@dataclass(frozen=True)
class MemberNumber:
    prefix: str
    household: int
    rank: int

    @property
    def body(self) -> str:
        return f"{self.prefix}{self.household:06d}{self.rank:02d}"

    def __str__(self) -> str:
        check = mod_37_36.calc_check_digit(self.body)
        return f"{self.prefix}-{self.household:06d}-{self.rank:02d}-{check}"


def compact(raw: str) -> str:
    """Upper case, without spaces, dashes or dots (how people type numbers)."""
    return re.sub(r"[\s\-./]", "", (raw or "").upper())


def parse(raw: str) -> MemberNumber | None:
    """The number if well formed with a valid check character, else None."""
    value = compact(raw)
    match = _SHAPE.fullmatch(value)
    if match is None or not mod_37_36.is_valid(value):
        return None
    prefix, household, rank, _check = match.groups()
    return MemberNumber(prefix, int(household), int(rank))


def looks_like_number(raw: str) -> bool:
    """Shaped like a member number (checked or not): a search on it is a number search."""
    return _SHAPE.fullmatch(compact(raw)) is not None


def prefix_for(slug: str) -> str:
    """Default prefix from the mutual's identifier: its first three letters ("artisanat" → "ART")."""
    letters = re.sub(r"[^a-z]", "", slug.lower())
    return (letters[:3] or "MUT").upper().ljust(2, "X")
