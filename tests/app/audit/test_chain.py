"""The chain logic on plain rows: no database."""

import datetime as dt

from app.audit.chain import GENESIS, check_heads, jsonable, mask, row_hash, timestamp, verify_chain

KEY = b"k" * 32


def _chain(count: int, key: bytes = KEY, chain: str = "public") -> list[dict]:
    rows, prev = [], GENESIS
    for seq in range(1, count + 1):
        row = {
            "id": seq,
            "seq": seq,
            "prev_hash": prev,
            "at": dt.datetime(2026, 11, 23, 10, seq, tzinfo=dt.UTC),
            "actor_id": 7,
            "actor_label": "agent@test.sn",
            "actor_grants": "association_agent@ASS-A",
            "tenant_slug": None,
            "action": "tests.step",
            "target_type": "thing",
            "target_id": str(seq),
            "outcome": "success",
            "details": {"n": seq, "after": {"name": "x"}},
            "ip_address": "127.0.0.1",
            "user_agent": "pytest",
            "request_id": f"r{seq}",
            "method": "POST",
            "path": "/x",
        }
        row["hash"] = prev = row_hash(key, chain, prev, row)
        rows.append(row)
    return rows


def test_a_clean_chain_has_no_problem():
    assert verify_chain(_chain(5), KEY) == []


def test_an_altered_row_is_found():
    rows = _chain(5)
    rows[2]["details"] = {"n": 99}
    assert [(p.seq, p.kind) for p in verify_chain(rows, KEY)] == [(3, "altered")]


def test_a_deleted_row_leaves_a_gap():
    rows = _chain(5)
    del rows[1]
    assert [(p.seq, p.kind) for p in verify_chain(rows, KEY)] == [(3, "gap")]
    assert [(p.seq, p.kind) for p in verify_chain(_chain(5)[2:], KEY)] == [(3, "gap")]  # the first rows


def test_inserted_rows_are_found():
    rows = _chain(4)
    forged = {**rows[-1], "id": 99, "seq": 5, "prev_hash": rows[-1]["hash"], "action": "forged"}
    forged["hash"] = row_hash(b"not the key", "public", forged["prev_hash"], forged)
    duplicate = {**rows[1], "id": 98}
    unchained = {**rows[0], "id": 97, "seq": None}
    found = verify_chain([unchained, *rows[:2], duplicate, *rows[2:], forged], KEY)
    assert [(p.seq, p.kind) for p in found] == [(None, "unchained"), (2, "duplicate"), (5, "altered")]


def test_a_row_moved_to_another_chain_does_not_verify():
    assert [p.kind for p in verify_chain(_chain(1, chain="t_alpha"), KEY, "t_beta")] == ["altered"]


def test_a_chain_rewritten_with_the_key_is_caught_by_its_exported_heads():
    original = _chain(5)
    rewritten = _chain(5)
    rewritten[1]["details"] = {"n": "changed"}
    prev = rewritten[0]["hash"]
    for row in rewritten[1:]:
        row["prev_hash"] = prev
        row["hash"] = prev = row_hash(KEY, "public", prev, row)
    assert verify_chain(rewritten, KEY) == []  # consistent on its own
    heads = [(3, original[2]["hash"]), (5, original[4]["hash"])]
    present = {row["seq"]: row["hash"] for row in rewritten}
    assert [(p.seq, p.kind) for p in check_heads("public", heads, present)] == [
        (3, "head_mismatch"),
        (5, "head_mismatch"),
    ]
    assert [p.kind for p in check_heads("public", heads, {3: original[2]["hash"]})] == ["head_missing"]


def test_values_are_canonical_and_secrets_masked():
    naive = dt.datetime(2026, 1, 1, 12, 0)  # noqa: DTZ001 - a naive value counts as UTC
    dakar = dt.datetime(2026, 1, 1, 13, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert timestamp(naive) == timestamp(dakar) == "2026-01-01T12:00:00.000000+00:00"
    assert jsonable({"when": naive, "ids": {2, 1}, "blob": b"abc"}) == {
        "when": "2026-01-01T12:00:00.000000+00:00",
        "ids": [1, 2],
        "blob": "<3 bytes>",
    }
    assert mask({"password_hash": "x", "name": "A", "nested": {"totp_secret": "s"}}) == {
        "password_hash": "***",
        "name": "A",
        "nested": {"totp_secret": "***"},
    }
