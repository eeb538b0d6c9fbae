"""Write audit events and keep their chains.

- ``record_event`` / ``record_read``: services add an event to the current transaction (it commits or
  rolls back with the change). Events about a tenant's data go to that tenant's chain, platform and
  security events to ``public``.
- At flush time (``before_flush``) each new row gets its place in its chain under a transaction-scoped
  advisory lock, so parallel transactions append one after the other; the lock ends with the transaction.
- ``seal_unchained`` chains ``public`` rows written before the chain existed; ``verify_all`` and
  ``export_heads`` read every chain back with the owner's connection (``mbolo audit …``).

The lock is taken at the first flush of an event of that chain and held until commit, so: record events
late in the work where possible; never write events on a second connection (a "side" transaction) while
the caller's transaction has already flushed an event of the same chain — the side one would wait for a
commit that cannot come first; a transaction writing to two chains takes them in the order it flushes
them (``public`` first within one flush), and PostgreSQL ends a rare crossed wait with a deadlock error.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context, has_request_context, request
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app.audit.chain import (
    CONTENT_FIELDS,
    GENESIS,
    PUBLIC_CHAIN,
    Problem,
    check_heads,
    jsonable,
    mask,
    row_hash,
    timestamp,
    verify_chain,
)
from app.audit.models import AuditEvent, AuditRecord, TenantAuditEvent
from app.database import runtime_role, safe_identifier, tenant_group_role, utcnow
from app.security.actor import Actor
from tenants.context import NoTenantContext, TenantRef, apply_context, current_tenant_of

#: First key of the two-key advisory locks of the audit chains ("MBO"), apart from any other lock use.
LOCK_NAMESPACE = 0x4D424F
#: Attributes set on a new row by ``record_event`` (not columns): its chain and its order of creation.
_CHAIN_ATTR, _ORDER_ATTR = "_mbolo_chain", "_mbolo_order"
_order = itertools.count()


def audit_key(session: Session | None = None) -> bytes:
    """The HMAC key (outside the database): ``session.info["mbolo_audit_key"]`` if a caller without a
    Flask app set one, else the app's ``MBOLO_AUDIT_KEY``."""
    key = session.info.get("mbolo_audit_key") if session is not None else None
    if key:
        return key
    if not has_app_context():
        raise RuntimeError("audit events need the audit key: run inside the Flask app context")
    return current_app.config["MBOLO_AUDIT_KEY"]


def _clip(value: object, length: int) -> str | None:
    if value is None:
        return None
    text_value = str(value)
    return text_value if len(text_value) <= length else text_value[: length - 1] + "…"


def _request_fields(actor: Actor) -> dict[str, Any]:
    """Where the event comes from: the current HTTP request when there is one."""
    if not has_request_context():
        return {"ip_address": actor.ip_address}
    from app.audit.requests import current_request_id

    return {
        "ip_address": request.remote_addr or actor.ip_address,
        "user_agent": _clip(request.user_agent.string, 300) or None,
        "request_id": current_request_id(),
        "method": request.method,
        "path": _clip(request.path, 300),
    }


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    tenant_slug: str | None = None,
    outcome: str = "success",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    platform: bool = False,
    **details: Any,
) -> AuditRecord:
    """Add an audit event to the current transaction (it commits or rolls back with the change).

    It goes to the tenant's chain when the session is in a tenant's context, unless ``platform`` is set
    or the action is a security event (``security.*``: the platform's security screen reads them all in
    ``public``). ``before``/``after`` hold the changed values; secret-looking keys are masked.
    """
    context = current_tenant_of(session)
    chain_tenant = None if platform or action.startswith("security.") else context
    if before is not None:
        details["before"] = mask(jsonable(dict(before)))
    if after is not None:
        details["after"] = mask(jsonable(dict(after)))
    values: dict[str, Any] = {
        "at": utcnow(),
        "actor_id": actor.account_id,
        "actor_label": _clip(actor.label, 200) or "",
        "actor_grants": _clip(getattr(actor, "grants_label", "") or "", 500),
        "tenant_slug": chain_tenant.slug if chain_tenant else tenant_slug or (context and context.slug),
        "action": action,
        "target_type": target_type,
        "target_id": _clip(target_id, 64),
        "outcome": outcome,
        "details": jsonable(details),
        **_request_fields(actor),
    }
    record: AuditRecord = TenantAuditEvent(**values) if chain_tenant else AuditEvent(**values)
    setattr(record, _CHAIN_ATTR, chain_tenant.schema if chain_tenant else PUBLIC_CHAIN)
    setattr(record, _ORDER_ATTR, next(_order))
    session.add(record)
    return record


def record_read(
    session: Session, actor: Actor, target_type: str, target_id: object, **details: Any
) -> AuditRecord:
    """Audit a read of a member's personal or medical record (action ``read.<target_type>``)."""
    return record_event(
        session, actor, f"read.{target_type}", target_type=target_type, target_id=target_id, **details
    )


# --- the chains --------------------------------------------------------------------------------------


def chain_table(chain: str) -> str:
    """The (quoted, validated) table holding ``chain``: ``public.audit_events`` or ``"t_x".audit_events``."""
    return "public.audit_events" if chain == PUBLIC_CHAIN else f'"{safe_identifier(chain)}".audit_events'


def lock_chain_head(connection: Connection, chain: str) -> tuple[int, str]:
    """Take the chain's lock until the end of the transaction, then read its last (seq, hash).

    Under READ COMMITTED the read is a new statement after the lock is granted, so it sees the rows of
    the transaction that held the lock before: two appends can never take the same place.
    """
    connection.execute(
        text("SELECT pg_advisory_xact_lock(:ns, hashtext(:chain))"), {"ns": LOCK_NAMESPACE, "chain": chain}
    )
    last = connection.execute(
        text(f"SELECT seq, hash FROM {chain_table(chain)} WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1")
    ).first()
    return (0, GENESIS) if last is None else (int(last.seq), str(last.hash or ""))


def _fill_defaults(record: AuditRecord) -> None:
    """Give every hashed column its final value before hashing (column defaults come too late)."""
    record.at = record.at or utcnow()
    record.actor_grants = record.actor_grants or ""
    record.outcome = record.outcome or "success"
    record.details = jsonable(record.details or {})


@event.listens_for(Session, "before_flush")
def _chain_new_events(session: Session, _context: object, _instances: object) -> None:
    pending = [o for o in session.new if isinstance(o, AuditEvent | TenantAuditEvent) and o.seq is None]
    if not pending:
        return
    tenant = current_tenant_of(session)
    by_chain: dict[str, list[AuditRecord]] = {}
    for record in pending:
        chain = PUBLIC_CHAIN
        if isinstance(record, TenantAuditEvent):
            if tenant is None:
                raise NoTenantContext("TenantAuditEvent")
            chain = tenant.schema
            if getattr(record, _CHAIN_ATTR, chain) != chain:  # recorded in one tenant, flushed in another
                raise RuntimeError(f"audit event of {getattr(record, _CHAIN_ATTR)} flushed in {chain}")
        by_chain.setdefault(chain, []).append(record)
    key, connection = audit_key(session), session.connection()
    # One order for the locks (public first) so two transactions never wait on each other within a flush.
    for chain in sorted(by_chain, key=lambda c: (c != PUBLIC_CHAIN, c)):
        seq, prev_hash = lock_chain_head(connection, chain)
        for record in sorted(by_chain[chain], key=lambda r: getattr(r, _ORDER_ATTR, -1)):
            _fill_defaults(record)
            seq += 1
            record.seq, record.prev_hash = seq, prev_hash
            record.hash = prev_hash = row_hash(key, chain, prev_hash, _content_of(record))


def _content_of(record: AuditRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in CONTENT_FIELDS}


def seal_unchained(bind: Engine | Connection, key: bytes) -> int:
    """Append the ``public`` rows that have no place in the chain (written before migration s0004, or by
    code still running during an upgrade) to the chain, in id order; returns how many.

    Needs the owner's connection (the runtime roles may not UPDATE the log) and the key, which the
    migration cannot know. Until then ``mbolo audit verify`` lists such rows as unchained.
    """
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            return seal_unchained(connection, key)
    has_chain = bind.scalar(
        text(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = 'audit_events' AND column_name = 'seq'"
        )
    )
    if not has_chain:
        return 0
    seq, prev_hash = lock_chain_head(bind, PUBLIC_CHAIN)
    rows = bind.execute(text("SELECT * FROM public.audit_events WHERE seq IS NULL ORDER BY id")).mappings()
    sealed = 0
    for row in rows.all():
        seq += 1
        values = {**row, "seq": seq}
        digest = row_hash(key, PUBLIC_CHAIN, prev_hash, values)
        bind.execute(
            text("UPDATE public.audit_events SET seq = :seq, prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"seq": seq, "prev": prev_hash, "hash": digest, "id": row["id"]},
        )
        prev_hash, sealed = digest, sealed + 1
    return sealed


# --- reading the chains back (owner connection) ------------------------------------------------------


@dataclass
class ChainReport:
    chain: str
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)


def list_chains(engine: Engine) -> list[tuple[str, TenantRef | None]]:
    """``public`` then every tenant's chain (named after its schema)."""
    from migrations.runner import list_tenants

    with engine.connect() as connection:
        tenants = list_tenants(connection)
    return [(PUBLIC_CHAIN, None), *((t.schema, t) for t in tenants)]


def _table_exists(connection: Connection, chain: str) -> bool:
    schema = "public" if chain == PUBLIC_CHAIN else chain
    return bool(
        connection.scalar(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": f'"{schema}".audit_events'})
    )


def _privilege_problems(connection: Connection, chain: str, tenant: TenantRef | None) -> list[Problem]:
    """The chain is only as good as the rights on its table: no runtime or tenant role may change rows."""
    url = connection.engine.url
    roles = [runtime_role(url), tenant_group_role(url), *([tenant.role] if tenant else [])]
    table = chain_table(chain)
    problems = []
    for role in roles:
        for privilege in ("UPDATE", "DELETE", "TRUNCATE"):
            allowed = connection.scalar(
                text("SELECT to_regrole(:r) IS NOT NULL AND has_table_privilege(:r, :t, :p)"),
                {"r": role, "t": table, "p": privilege},
            )
            if allowed:
                problems.append(Problem(chain, None, "privileges", f"{role} may {privilege} audit rows"))
    if tenant is not None:
        owner = connection.scalar(
            text("SELECT tableowner FROM pg_tables WHERE schemaname = :s AND tablename = 'audit_events'"),
            {"s": chain},
        )
        if owner == tenant.role:
            problems.append(Problem(chain, None, "privileges", f"the table is owned by {owner}"))
    return problems


def _counted(rows: Iterator[Mapping[str, Any]], report: ChainReport) -> Iterator[Mapping[str, Any]]:
    for row in rows:
        report.rows += 1
        yield row


def verify_one(
    connection: Connection,
    chain: str,
    tenant: TenantRef | None,
    key: bytes,
    exported: list[tuple[int, str]] | None = None,
) -> ChainReport:
    """Recompute one chain on the owner's ``connection`` (streamed in ``seq`` order, a tenant's chain read
    under its own role), check the heads exported earlier, if any, and the privileges on its table."""
    report = ChainReport(chain)
    if not _table_exists(connection, chain):
        report.problems.append(Problem(chain, None, "chain_missing", "no audit_events table"))
        return report
    apply_context(connection, tenant)
    rows = connection.execute(
        text(f"SELECT * FROM {chain_table(chain)} ORDER BY seq NULLS FIRST, id"),
        execution_options={"yield_per": 2000},  # a server-side cursor: any length of chain
    ).mappings()
    report.problems.extend(verify_chain(_counted(iter(rows), report), key, chain))
    if exported:
        present = dict(
            connection.execute(
                text(f"SELECT seq, hash FROM {chain_table(chain)} WHERE seq = ANY(:s)"),
                {"s": sorted({seq for seq, _ in exported})},
            ).all()
        )
        report.problems.extend(check_heads(chain, exported, present))
    apply_context(connection, None)
    report.problems.extend(_privilege_problems(connection, chain, tenant))
    return report


def verify_all(
    engine: Engine, key: bytes, heads: Mapping[str, list[tuple[int, str]]] | None = None
) -> list[ChainReport]:
    """Verify ``public`` and every tenant's chain (one transaction each); a chain named in ``heads`` but
    absent from the database is reported too."""
    chains = list_chains(engine)
    reports = []
    for chain, tenant in chains:
        with engine.begin() as connection:
            reports.append(verify_one(connection, chain, tenant, key, (heads or {}).get(chain)))
    known = {chain for chain, _ in chains}
    for chain in sorted(set(heads or {}) - known):
        reports.append(
            ChainReport(chain, 0, [Problem(chain, None, "chain_missing", "exported heads name this chain")])
        )
    return reports


def read_heads(path: Path) -> dict[str, list[tuple[int, str]]]:
    """The heads exported to ``path`` (JSON lines), by chain; raises ValueError on a malformed line."""
    heads: dict[str, list[tuple[int, str]]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                heads.setdefault(str(item["chain"]), []).append((int(item["seq"]), str(item["hash"])))
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{number}: not a head line ({error})") from error
    return heads


def chain_head(connection: Connection, chain: str, tenant: TenantRef | None) -> dict[str, Any] | None:
    """The last row of one chain as a head {chain, seq, hash, at, exported_at}; None if it is empty."""
    if not _table_exists(connection, chain):
        return None
    apply_context(connection, tenant)
    last = connection.execute(
        text(
            f"SELECT seq, hash, at FROM {chain_table(chain)} WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
        )
    ).first()
    apply_context(connection, None)
    if last is None:
        return None
    now = timestamp(dt.datetime.now(dt.UTC))
    return {"chain": chain, "seq": last.seq, "hash": last.hash, "at": timestamp(last.at), "exported_at": now}


def chain_heads(engine: Engine) -> list[dict[str, Any]]:
    """The head of every non-empty chain, ``public`` first."""
    heads = []
    for chain, tenant in list_chains(engine):
        with engine.begin() as connection:
            head = chain_head(connection, chain, tenant)
        if head is not None:
            heads.append(head)
    return heads


def export_heads(engine: Engine, path: Path) -> list[dict[str, Any]]:
    """Append the current head of every chain to ``path`` (one JSON line each) and return them. Keep the
    file, or a copy, where the database's administrators cannot rewrite it: it is what reveals a chain
    rewritten from the start with the key."""
    heads = chain_heads(engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for head in heads:
            out.write(json.dumps(head, sort_keys=True) + "\n")
    return heads


def default_heads_path() -> Path:
    return Path(str(current_app.config["MBOLO_DATA_DIR"])) / "audit-heads.jsonl"
