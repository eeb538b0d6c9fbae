"""The hash chains of the audit log, as pure functions (no database, no Flask): testable on plain rows.

Each chain (``public`` for platform events, one per tenant schema) links its rows in ``seq`` order:
``hash = HMAC-SHA256(key, prev_hash + canonical JSON of the row's content)``, where the content holds every
column but ``id``, ``prev_hash`` and ``hash``, plus the chain's name, so a row cannot be moved from one chain
to another. The key lives outside the database: whoever can write the table but lacks the key cannot forge a
row, and a rewrite of a whole chain *with* the key is caught by comparing with heads exported earlier.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import hmac
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
PUBLIC_CHAIN = "public"
#: Columns covered by a row's hash (with ``prev_hash`` as the message prefix and the chain's name).
CONTENT_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_label",
    "actor_grants",
    "tenant_slug",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "details",
    "ip_address",
    "user_agent",
    "request_id",
    "method",
    "path",
)
#: Column names whose values never reach the log (the change is recorded, not the value).
#: Column or key names holding secrets (``code_hash`` matches "hash"; a node's ``code`` is not secret).
SECRET_MARKERS = ("password", "secret", "token", "hash", "ciphertext", "payload", "recovery", "otp")
MASK = "***"
#: Longest string value kept in ``details`` (an SMS body or a note stays readable, a file does not).
MAX_TEXT = 1000


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types, the same ones the database gives back, so the hash computed before
    the insert is the hash recomputed from the stored row."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, dt.datetime):
        return timestamp(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return jsonable(str(value))


def timestamp(value: dt.datetime) -> str:
    """ISO 8601 in UTC with microseconds: one spelling whatever the connection's time zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def mask(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Replace the values of secret-looking keys (at any depth) by ``***``."""
    if values is None:
        return None
    return {
        str(k): MASK if is_secret(str(k)) else (mask(v) if isinstance(v, Mapping) else v)
        for k, v in values.items()
    }


def content(values: Mapping[str, Any], chain: str) -> bytes:
    """The canonical bytes of a row's content: sorted keys, compact separators, ISO timestamps."""
    body: dict[str, Any] = {name: values.get(name) for name in CONTENT_FIELDS}
    body["at"] = timestamp(body["at"]) if isinstance(body["at"], dt.datetime) else body["at"]
    body["details"] = jsonable(body["details"] or {})
    body["chain"] = chain
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def row_hash(key: bytes, chain: str, prev_hash: str, values: Mapping[str, Any]) -> str:
    return hmac.new(key, prev_hash.encode() + content(values, chain), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Problem:
    """One finding of a verification. ``kind``: unchained, duplicate, gap, broken_link, altered,
    head_missing, head_mismatch, chain_missing, privileges."""

    chain: str
    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f" seq {self.seq}" if self.seq is not None else ""
        return f"{self.chain}{where}: {self.kind} — {self.detail}"


def verify_chain(rows: Iterable[Mapping[str, Any]], key: bytes, chain: str = PUBLIC_CHAIN) -> list[Problem]:
    """Recompute ``chain`` from ``rows`` (unchained rows first, then by ``seq``; streamed, one pass).

    A changed row no longer matches its hash (``altered``); a deleted row leaves a hole in the numbering
    (``gap``); a row slipped in without the key cannot carry a valid hash (``altered``), reuses a number
    (``duplicate``), breaks the link to its predecessor (``broken_link``) or has no number (``unchained``).
    Rows deleted from the end leave no trace here: that is what exported heads are for (``check_heads``).
    """
    problems: list[Problem] = []
    prev_seq, prev_hash = 0, GENESIS
    for row in rows:
        seq = row.get("seq")
        if seq is None:
            problems.append(
                Problem(chain, None, "unchained", f"row id {row.get('id')} has no place in the chain")
            )
            continue
        if seq == prev_seq:
            problems.append(Problem(chain, seq, "duplicate", "two rows carry this number"))
        elif seq != prev_seq + 1:
            missing = f"{prev_seq + 1}" if seq == prev_seq + 2 else f"{prev_seq + 1}–{seq - 1}"
            problems.append(Problem(chain, seq, "gap", f"rows {missing} are missing"))
        elif row.get("prev_hash") != prev_hash:
            problems.append(Problem(chain, seq, "broken_link", "prev_hash is not the previous row's hash"))
        stored = row.get("hash")
        if stored is None or not hmac.compare_digest(
            str(stored), row_hash(key, chain, str(row.get("prev_hash")), row)
        ):
            problems.append(Problem(chain, seq, "altered", "the row's content does not match its hash"))
        prev_seq, prev_hash = seq, str(stored)
    return problems


def check_heads(
    chain: str, exported: Iterable[tuple[int, str]], present: Mapping[int, str | None]
) -> list[Problem]:
    """Every head exported earlier (``seq``, ``hash``) must still be in the chain, unchanged: otherwise
    the chain was cut short, or rewritten by someone holding the key."""
    problems = []
    for seq, expected in exported:
        found = present.get(seq)
        if found is None:
            problems.append(Problem(chain, seq, "head_missing", "an exported head is no longer in the chain"))
        elif not hmac.compare_digest(found, expected):
            problems.append(Problem(chain, seq, "head_mismatch", "the row differs from the exported head"))
    return problems
