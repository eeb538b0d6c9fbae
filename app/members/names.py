"""Names as search keys: casefolded, without accents, and their trigrams computed like pg_trgm does
(each word padded with two spaces before and one after). The embedded PostgreSQL ships without contrib
extensions, so the trigrams are stored in a GIN-indexed array and compared in SQL with core operators."""

from __future__ import annotations

import re
import unicodedata

_WORDS = re.compile(r"[0-9a-z]+")


def name_key(*parts: str | None) -> str:
    """ "Aïssatou  N'Diaye" → "aissatou n diaye"."""
    text = " ".join(p for p in parts if p)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_WORDS.findall(plain))


def trigrams(text: str) -> list[str]:
    found: set[str] = set()
    for word in _WORDS.findall(name_key(text)):
        padded = f"  {word} "
        found.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return sorted(found)


def similarity(a: str, b: str) -> float:
    """pg_trgm's similarity: shared trigrams over all distinct trigrams of both."""
    ta, tb = set(trigrams(a)), set(trigrams(b))
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)
