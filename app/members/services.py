"""Enrolment and care of the member register: identity checks, eligibility, numbers, duplicates, status,
search, consent and drafts. Every function runs in the tenant's scope (the caller binds it) and takes the
actor explicitly; it flushes, never commits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_event, record_read
from app.database import local_today, utcnow
from app.errors import DomainError, FieldError, NotFound
from app.members import names, numbers
from app.members.models import (
    NUMBER_SEQUENCE,
    Consent,
    EnrolmentDraft,
    Member,
    MemberStatus,
    MemberStatusEvent,
    Relationship,
    Sex,
)
from app.members.rules import MemberRules, member_rules, trades_for
from app.phones import normalise_phone
from app.security.actor import Actor
from hierarchy.models import Node, NodeKind, NodeStatus
from tenants.context import TenantRef
from tenants.models import Tenant

_YEAR_ONLY = re.compile(r"^(?:vers|env\.?|environ|~|ca\.?)?\s*(\d{4})$", re.IGNORECASE)
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
#: Senegal's NIN (CEDEAO biometric card): 13 digits, the first one 1 or 2; 14 with the older cards.
_NATIONAL_ID = re.compile(r"^[12]\d{12,13}$")
#: Who may move to which status (deceased is final; someone who left may come back).
TRANSITIONS: dict[MemberStatus, frozenset[MemberStatus]] = {
    MemberStatus.pending: frozenset({MemberStatus.active, MemberStatus.left, MemberStatus.deceased}),
    MemberStatus.active: frozenset({MemberStatus.suspended, MemberStatus.left, MemberStatus.deceased}),
    MemberStatus.suspended: frozenset({MemberStatus.active, MemberStatus.left, MemberStatus.deceased}),
    MemberStatus.left: frozenset({MemberStatus.active}),
    MemberStatus.deceased: frozenset(),
}
COVERED = (MemberStatus.pending, MemberStatus.active, MemberStatus.suspended)


# --- input -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonInput:
    """An identity as typed (strings); ``clean_person`` checks it and gives ``CleanPerson``."""

    last_name: str
    first_names: str
    sex: str
    birth: str  # "12/03/1985", "1985-03-12", "1985" or "vers 1985"
    birth_place: str = ""
    national_id: str = ""
    phone: str = ""
    phone_alt: str = ""
    address: str = ""
    commune: str = ""
    region: str = ""
    trade: str = ""


@dataclass(frozen=True)
class CleanPerson:
    last_name: str
    first_names: str
    sex: Sex
    birth_date: dt.date | None
    birth_year: int
    birth_place: str | None
    national_id: str | None
    phone: str | None
    phone_alt: str | None
    address: str | None
    commune: str | None
    region: str | None
    trade: str | None

    @property
    def name_key(self) -> str:
        return names.name_key(self.last_name, self.first_names)

    def age_on(self, day: dt.date) -> int:
        born = self.birth_date or dt.date(self.birth_year, 7, 1)
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class DependantInput:
    person: PersonInput
    relationship: str  # spouse | child | other


@dataclass(frozen=True)
class ConsentInput:
    given_on: dt.date
    text_version: str | None = None  # the mutual's current text by default
    scan_path: str | None = None


class DuplicatesFound(DomainError):
    """Possible duplicates: the agent looks at them and confirms (or not) that this is someone else."""

    def __init__(self, candidates: list[DuplicateCandidate]) -> None:
        super().__init__(_l("Cette personne est peut-être déjà inscrite : vérifiez avant d'enregistrer."))
        self.candidates = candidates


@dataclass(frozen=True)
class DuplicateCandidate:
    member: Member
    reason: object
    #: False for someone of an association beyond the agent's reach: shown by number only, not by name.
    in_reach: bool = True


def parse_birth(raw: str, today: dt.date, field: str = "birth") -> tuple[dt.date | None, int]:
    """(exact date or None, year) from "12/03/1985", "1985-03-12", "1985" or "vers 1985"."""
    value = (raw or "").strip()
    if not value:
        raise FieldError(field, _l("Indiquez la date de naissance, ou l'année seule (ex. : vers 1980)."))
    if year_only := _YEAR_ONLY.fullmatch(value):
        born, year = None, int(year_only.group(1))
    else:
        parts = _DAY_FIRST.fullmatch(value) or _ISO.fullmatch(value)
        if parts is None:
            raise FieldError(
                field, _l("Date attendue au format JJ/MM/AAAA, ou l'année seule (ex. : vers 1980).")
            )
        numbers_ = [int(p) for p in parts.groups()]
        day, month, year = numbers_ if parts.re is _DAY_FIRST else reversed(numbers_)
        try:
            born = dt.date(year, month, day)
        except ValueError as bad:
            raise FieldError(field, _l("Cette date n'existe pas.")) from bad
    if year > today.year or (born is not None and born > today):
        raise FieldError(field, _l("La date de naissance est dans le futur."))
    if today.year - year > 120:
        raise FieldError(field, _l("Date de naissance trop ancienne."))
    return born, year


def _text(value: str | None, limit: int) -> str | None:
    cleaned = " ".join((value or "").split())
    return cleaned[:limit] or None


def clean_person(
    person: PersonInput, *, today: dt.date, sector: str | None = None, prefix: str = ""
) -> CleanPerson:
    """Check an identity; a ``FieldError`` names the field (with ``prefix`` for ayants droit's forms)."""
    last_name, first_names = _text(person.last_name, 80), _text(person.first_names, 120)
    if not last_name:
        raise FieldError(f"{prefix}last_name", _l("Le nom est obligatoire."))
    if not first_names:
        raise FieldError(f"{prefix}first_names", _l("Le prénom est obligatoire."))
    if person.sex not in {s.value for s in Sex}:
        raise FieldError(f"{prefix}sex", _l("Indiquez le sexe."))
    birth_date, birth_year = parse_birth(person.birth, today, f"{prefix}birth")
    national_id = re.sub(r"\s", "", person.national_id or "") or None
    if national_id is not None and not _NATIONAL_ID.fullmatch(national_id):
        raise FieldError(
            f"{prefix}national_id",
            _l("Numéro d'identification national : 13 chiffres commençant par 1 ou 2."),
        )
    trade = _text(person.trade, 60)
    if trade and sector in {"artisanat", "commerce", "transport"} and trade not in trades_for(sector):
        raise FieldError(f"{prefix}trade", _l("Choisissez un métier de la liste (ou « autre »)."))
    return CleanPerson(
        last_name=last_name.upper(),
        first_names=first_names,
        sex=Sex(person.sex),
        birth_date=birth_date,
        birth_year=birth_year,
        birth_place=_text(person.birth_place, 120),
        national_id=national_id,
        phone=normalise_phone(person.phone, field=f"{prefix}phone"),
        phone_alt=normalise_phone(person.phone_alt, field=f"{prefix}phone_alt"),
        address=_text(person.address, 200),
        commune=_text(person.commune, 80),
        region=_text(person.region, 80),
        trade=trade,
    )


# --- scope -------------------------------------------------------------------------------------------------


def tenant_federation(session: Session, tenant: TenantRef) -> Node:
    record = session.get(Tenant, tenant.id)
    assert record is not None
    return record.federation


def associations_in_reach(session: Session, actor: Actor, tenant: TenantRef, permission: str) -> list[Node]:
    """The mutual's associations where ``actor`` holds ``permission`` (an agent: theirs; a ligue: its own)."""
    federation = tenant_federation(session, tenant)
    query = (
        select(Node)
        .where(Node.kind == NodeKind.association, Node.path.startswith(federation.path))
        .order_by(Node.name)
    )
    return [n for n in session.scalars(query) if actor.can(permission, n.path)]


def visible_association_ids(session: Session, actor: Actor, tenant: TenantRef, permission: str) -> list[int]:
    return [n.id for n in associations_in_reach(session, actor, tenant, permission)]


def require_association(
    session: Session, actor: Actor, tenant: TenantRef, association_id: int, permission: str
) -> Node:
    """The association, if it is an open association of this mutual where ``actor`` holds ``permission``."""
    node = session.get(Node, association_id)
    federation = tenant_federation(session, tenant)
    if node is None or node.kind is not NodeKind.association or not node.path.startswith(federation.path):
        raise FieldError("association", _l("Choisissez une association de cette mutuelle."))
    actor.require(permission, node.path)
    if node.status is NodeStatus.closed and permission == "members.enrol":
        raise FieldError("association", _l("Cette association est fermée."))
    return node


def check_member_scope(session: Session, actor: Actor, member: Member, permission: str) -> None:
    node = session.get(Node, member.association_id)
    if node is None or not actor.can(permission, node.path):
        raise NotFound(_l("Adhérent introuvable."))


# --- numbers, duplicates -----------------------------------------------------------------------------------


def next_household(session: Session) -> int:
    return int(session.scalar(select(func.nextval(literal(NUMBER_SEQUENCE)))))


def find_duplicates(
    session: Session, person: CleanPerson, *, exclude_ids: Iterable[int] = (), limit: int = 5
) -> list[DuplicateCandidate]:
    """Same name and birth year; same phone; or a similar name (trigrams) born within a year."""
    key, grams = person.name_key, names.trigrams(person.name_key)
    excluded = list(exclude_ids)
    found: dict[int, DuplicateCandidate] = {}

    def add(rows: Iterable[Member], reason: object) -> None:
        for member in rows:
            if member.id not in excluded and member.id not in found:
                found[member.id] = DuplicateCandidate(member, reason)

    add(
        session.scalars(select(Member).where(Member.name_key == key, Member.birth_year == person.birth_year)),
        _l("même nom et même année de naissance"),
    )
    for phone in filter(None, (person.phone, person.phone_alt)):
        add(
            session.scalars(
                select(Member).where(or_(Member.phone == phone, Member.phone_alt == phone)).limit(limit)
            ),
            _l("même numéro de téléphone"),
        )
    if grams:
        similar = similarity_expression(grams)
        rows = session.execute(
            select(Member, similar.label("score"))
            .where(
                Member.name_trigrams.overlap(grams),
                Member.birth_year.between(person.birth_year - 1, person.birth_year + 1),
                similar >= 0.5,
            )
            .order_by(text("score DESC"))
            .limit(limit)
        ).all()
        add((row.Member for row in rows), _l("nom proche, né(e) à un an près"))
    return list(found.values())[:limit]


def similarity_expression(grams: Sequence[str]) -> Any:
    """pg_trgm's similarity in core SQL: |A ∩ B| / |A ∪ B| over the stored (distinct) trigram array."""
    query = bindparam("query_grams", value=list(grams), type_=ARRAY(String))
    shared = type_coerce(
        text(
            "cardinality(ARRAY(SELECT unnest(members.name_trigrams) INTERSECT SELECT unnest(:query_grams)))"
        ).bindparams(query),
        Integer,
    )
    union = func.cardinality(Member.name_trigrams) + len(set(grams)) - shared
    return cast(shared, Float) / func.nullif(union, 0)


# --- enrolment ---------------------------------------------------------------------------------------------


def _new_member(
    person: CleanPerson, *, number: numbers.MemberNumber, association_id: int, enrolled_on: dt.date,
    relationship: Relationship, actor: Actor, status: MemberStatus, external_ref: str | None = None,
) -> Member:  # fmt: skip
    return Member(
        number=str(number), relation=relationship, last_name=person.last_name,
        first_names=person.first_names, sex=person.sex, birth_date=person.birth_date,
        birth_year=person.birth_year, birth_place=person.birth_place, national_id=person.national_id,
        phone=person.phone, phone_alt=person.phone_alt, address=person.address, commune=person.commune,
        region=person.region, trade=person.trade, association_id=association_id, enrolled_on=enrolled_on,
        status=status, name_key=person.name_key, name_trigrams=names.trigrams(person.name_key),
        external_ref=external_ref, created_by_id=actor.account_id,
    )  # fmt: skip


def _check_national_id(
    session: Session, person: CleanPerson, prefix: str = "", exclude: int | None = None
) -> None:
    if person.national_id is None:
        return
    owner = session.scalar(select(Member.id).where(Member.national_id == person.national_id))
    if owner is not None and owner != exclude:
        raise FieldError(
            f"{prefix}national_id", _l("Ce numéro d'identification est déjà celui d'un autre membre.")
        )


def check_eligibility(
    rules: MemberRules,
    person: CleanPerson,
    relationship: str,
    household_size: int,
    today: dt.date,
    prefix: str = "",
) -> Relationship:
    """The mutual's rules for an ayant droit: known relationship, child age limit, household size."""
    if relationship not in {"spouse", "child", "other"}:
        raise FieldError(f"{prefix}relationship", _l("Indiquez le lien avec l'adhérent."))
    if relationship == "child" and person.age_on(today) >= rules.child_age_limit:
        raise FieldError(
            f"{prefix}birth",
            _l(
                "Un enfant de %(limit)s ans ou plus ne peut pas être ayant droit : il peut adhérer lui-même.",
                limit=rules.child_age_limit,
            ),
        )
    if household_size + 1 > rules.max_household_size:
        raise FieldError(
            f"{prefix}relationship",
            _l("Le foyer compte déjà %(size)s personnes, le maximum de la mutuelle.", size=household_size),
        )
    return Relationship(relationship)


def enrol(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    *,
    person: PersonInput,
    association_id: int,
    sector: str | None = None,
    dependants: Sequence[DependantInput] = (),
    consent: ConsentInput | None = None,
    enrolled_on: dt.date | None = None,
    allow_duplicates: bool = False,
    external_ref: str | None = None,
    today: dt.date | None = None,
) -> Member:
    """Enrol an adhérent with their ayants droit. With consent the adhérent is active; without (an imported
    register), pending until it is collected. Possible duplicates stop the enrolment unless confirmed."""
    today = today or clock.today()
    association = require_association(session, actor, tenant, association_id, "members.enrol")
    rules = member_rules(session, tenant)
    principal_person = clean_person(person, today=today, sector=sector)
    _check_national_id(session, principal_person)
    cleaned = []
    for index, dependant in enumerate(dependants):
        prefix = f"dependants-{index}-"
        clean = clean_person(dependant.person, today=today, prefix=prefix)
        relationship = check_eligibility(
            rules, clean, dependant.relationship, 1 + len(cleaned), today, prefix
        )
        _check_national_id(session, clean, prefix)
        cleaned.append((clean, relationship))
    if not allow_duplicates:
        candidates = find_duplicates(session, principal_person)
        if candidates:
            visible = set(visible_association_ids(session, actor, tenant, "members.read"))
            raise DuplicatesFound(
                [
                    DuplicateCandidate(c.member, c.reason, c.member.association_id in visible)
                    for c in candidates
                ]
            )
    household = next_household(session)
    status = MemberStatus.active if consent is not None else MemberStatus.pending
    principal = _new_member(
        principal_person, number=numbers.MemberNumber(rules.number_prefix, household, 0),
        association_id=association.id, enrolled_on=enrolled_on or today, relationship=Relationship.principal,
        actor=actor, status=status, external_ref=external_ref,
    )  # fmt: skip
    session.add(principal)
    session.flush()
    _history(session, actor, principal, None, status, _l("Enrôlement"), enrolled_on or today)
    for rank, (clean, relationship) in enumerate(cleaned, start=1):
        _add_person(session, actor, principal, clean, relationship, rank, status, today)
    if consent is not None:
        record_consent(session, tenant, actor, principal, consent)
    record_event(
        session, actor, "members.enrolled", target_type="member", target_id=principal.number,
        after={"number": principal.number, "name": principal.full_name, "association": association.code,
               "dependants": [d.number for d in principal.dependants]},
    )  # fmt: skip
    return principal


def _add_person(
    session: Session, actor: Actor, principal: Member, person: CleanPerson, relationship: Relationship,
    rank: int,
    status: MemberStatus, today: dt.date,
) -> Member:  # fmt: skip
    parsed = numbers.parse(principal.number)
    assert parsed is not None
    member = _new_member(
        person, number=numbers.MemberNumber(parsed.prefix, parsed.household, rank),
        association_id=principal.association_id, enrolled_on=today, relationship=relationship, actor=actor,
        status=status,
    )  # fmt: skip
    member.principal = principal
    session.add(member)
    session.flush()
    _history(session, actor, member, None, status, _l("Enrôlement"), today)
    return member


def household_of(member: Member) -> list[Member]:
    principal = member.principal or member
    return [principal, *principal.dependants]


def add_dependant(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    principal: Member,
    dependant: DependantInput,
    *,
    today: dt.date | None = None,
) -> Member:
    """Add an ayant droit to an adhérent's household (its own number, the household's rank after the last)."""
    today = today or clock.today()
    if not principal.is_principal:
        raise DomainError(_l("Un ayant droit se rattache à un adhérent."))
    check_member_scope(session, actor, principal, "members.enrol")
    rules = member_rules(session, tenant)
    clean = clean_person(dependant.person, today=today)
    covered = [m for m in household_of(principal) if m.status in COVERED]
    relationship = check_eligibility(rules, clean, dependant.relationship, len(covered), today)
    _check_national_id(session, clean)
    ranks = [numbers.parse(m.number) for m in household_of(principal)]
    rank = max(r.rank for r in ranks if r is not None) + 1
    member = _add_person(session, actor, principal, clean, relationship, rank, principal.status, today)
    record_event(
        session, actor, "members.dependant_added", target_type="member", target_id=member.number,
        after={"number": member.number, "name": member.full_name, "relationship": str(relationship),
               "principal": principal.number},
    )  # fmt: skip
    return member


def update_identity(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, person: PersonInput, *,
    sector: str | None = None,
    today: dt.date | None = None,
) -> Member:  # fmt: skip
    """Correct a person's identity and contacts; before/after values go to the audit log."""
    check_member_scope(session, actor, member, "members.manage")
    clean = clean_person(person, today=today or clock.today(), sector=sector)
    _check_national_id(session, clean, exclude=member.id)
    fields = list(CleanPerson.__dataclass_fields__)
    before = {f: _plain(getattr(member, f)) for f in fields}
    for name in fields:
        setattr(member, name, getattr(clean, name))
    member.name_key, member.name_trigrams = clean.name_key, names.trigrams(clean.name_key)
    after = {f: _plain(getattr(member, f)) for f in fields}
    changed = {k for k in fields if before[k] != after[k]}
    if changed:
        record_event(
            session, actor, "members.identity_updated", target_type="member", target_id=member.number,
            before={k: before[k] for k in changed}, after={k: after[k] for k in changed},
        )  # fmt: skip
    return member


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.date) else (str(value) if value is not None else None)


def _history(
    session: Session, actor: Actor, member: Member, before: MemberStatus | None, after: MemberStatus,
    reason: object,
    effective_on: dt.date,
) -> None:  # fmt: skip
    session.add(
        MemberStatusEvent(
            member_id=member.id, from_status=str(before) if before else None, to_status=str(after),
            reason=str(reason), effective_on=effective_on, actor_id=actor.account_id, actor_label=actor.label,
        )
    )  # fmt: skip


def change_status(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    member: Member,
    status: str,
    reason: str,
    *,
    effective_on: dt.date | None = None,
) -> Member:
    """Move a beneficiary to another status with a reason and a date; the history keeps every step."""
    check_member_scope(session, actor, member, "members.manage")
    if status not in {s.value for s in MemberStatus}:
        raise FieldError("status", _l("Statut inconnu."))
    target = MemberStatus(status)
    if target not in TRANSITIONS[member.status]:
        raise FieldError("status", _l("Ce changement de statut n'est pas possible depuis l'état actuel."))
    if not (reason or "").strip():
        raise FieldError("reason", _l("Indiquez le motif."))
    effective = effective_on or clock.today()
    before = member.status
    member.status, member.status_changed_at = target, utcnow()
    _history(session, actor, member, before, target, reason.strip(), effective)
    record_event(
        session, actor, "members.status_changed", target_type="member", target_id=member.number,
        before={"status": str(before)}, after={"status": str(target)}, reason=reason.strip(),
        effective_on=effective.isoformat(),
    )  # fmt: skip
    return member


# --- reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchPage:
    items: list[Member]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_members(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    q: str = "",
    *,
    status: str | None = None,
    association_id: int | None = None,
    principals_only: bool = False,
    page: int = 1,
    per_page: int = 25,
) -> SearchPage:
    """By number (any spelling), phone, or name (accents, case and spelling variants forgiven), within the
    actor's associations; best matches first for a name, newest first otherwise."""
    in_reach = visible_association_ids(session, actor, tenant, "members.read")
    query = select(Member).where(Member.association_id.in_(in_reach))
    if association_id is not None:
        query = query.where(Member.association_id == association_id)
    if status:
        query = query.where(Member.status == status)
    if principals_only:
        query = query.where(Member.principal_id.is_(None))
    order: list[Any] = [Member.id.desc()]
    q = (q or "").strip()
    if q and numbers.looks_like_number(q):
        compact = numbers.compact(q)
        query = query.where(func.replace(Member.number, "-", "") == compact)
    elif q and re.fullmatch(r"[+\d\s().-]{6,}", q):
        try:
            phone = normalise_phone(q, field="q")
        except FieldError:
            phone = None
        query = (
            query.where(or_(Member.phone == phone, Member.phone_alt == phone))
            if phone
            else query.where(False)
        )
    elif q:
        key, grams = names.name_key(q), names.trigrams(q)
        score = similarity_expression(grams)
        query = query.where(
            or_(Member.name_key.contains(key), and_(Member.name_trigrams.overlap(grams), score >= 0.3))
        )
        order = [score.desc(), Member.id.desc()]
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, page)
    items = list(session.scalars(query.order_by(*order).offset((page - 1) * per_page).limit(per_page)))
    return SearchPage(items=items, total=total, page=page, per_page=per_page)


def get_member(
    session: Session, tenant: TenantRef, actor: Actor, public_id: str, *, permission: str = "members.read",
    audit_read: bool = True,
) -> Member:  # fmt: skip
    """A beneficiary in the actor's reach; the read of a personal record is audited."""
    member = session.scalar(select(Member).where(Member.public_id == public_id))
    if member is None:
        raise NotFound(_l("Adhérent introuvable."))
    check_member_scope(session, actor, member, permission)
    if audit_read:
        record_read(session, actor, "member", member.number)
    return member


def get_by_number(
    session: Session, tenant: TenantRef, actor: Actor, raw: str, *, permission: str = "members.read",
    audit_read: bool = True,
) -> Member:  # fmt: skip
    """By number, typed any way (spaces, dashes, lower case); the check character must be right."""
    parsed = numbers.parse(raw)
    if parsed is None:
        raise FieldError("number", _l("Numéro de membre invalide (vérifiez chaque caractère)."))
    member = session.scalar(select(Member).where(Member.number == str(parsed)))
    if member is None:
        raise NotFound(_l("Adhérent introuvable."))
    return get_member(session, tenant, actor, member.public_id, permission=permission, audit_read=audit_read)


# --- consent -----------------------------------------------------------------------------------------------


def record_consent(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, consent: ConsentInput
) -> Consent:
    """Consent of the adhérent (for the household); an adhérent still pending becomes active."""
    if not member.is_principal:
        raise DomainError(_l("Le consentement est recueilli auprès de l'adhérent."))
    if consent.given_on > local_today():  # the calendar's future, whatever the business date
        raise FieldError("consent_date", _l("La date du consentement est dans le futur."))
    rules = member_rules(session, tenant)
    row = Consent(
        member_id=member.id, text_version=consent.text_version or rules.consent_version,
        given_on=consent.given_on,
        collected_by_id=actor.account_id, collected_by_label=actor.label, scan_path=consent.scan_path,
    )  # fmt: skip
    session.add(row)
    session.flush()
    if member.status is MemberStatus.pending:
        for person in household_of(member):
            if person.status is MemberStatus.pending:
                before = person.status
                person.status, person.status_changed_at = MemberStatus.active, utcnow()
                _history(
                    session,
                    actor,
                    person,
                    before,
                    MemberStatus.active,
                    _l("Consentement recueilli"),
                    consent.given_on,
                )
    record_event(
        session, actor, "members.consent_recorded", target_type="member", target_id=member.number,
        after={"text_version": row.text_version, "given_on": row.given_on.isoformat(),
               "scan": bool(row.scan_path)},
    )  # fmt: skip
    return row


def current_consent(session: Session, member: Member) -> Consent | None:
    principal = member.principal or member
    return session.scalar(
        select(Consent)
        .where(Consent.member_id == principal.id, Consent.withdrawn_at.is_(None))
        .order_by(Consent.id.desc())
    )


def consents_of(session: Session, member: Member) -> list[Consent]:
    principal = member.principal or member
    return list(
        session.scalars(select(Consent).where(Consent.member_id == principal.id).order_by(Consent.id))
    )


def withdraw_consent(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, reason: str
) -> Consent:
    """The adhérent withdraws consent: recorded, never deleted; the household is suspended until a new one."""
    check_member_scope(session, actor, member, "members.manage")
    consent = current_consent(session, member)
    if consent is None:
        raise DomainError(_l("Aucun consentement en cours à retirer."))
    if not (reason or "").strip():
        raise FieldError("reason", _l("Indiquez le motif."))
    consent.withdrawn_at, consent.withdrawn_by_label, consent.withdrawal_reason = (
        utcnow(),
        actor.label,
        reason.strip(),
    )
    for person in household_of(member):
        if person.status is MemberStatus.active:
            change_status(session, tenant, actor, person, "suspended", str(_l("Consentement retiré")))
    record_event(
        session, actor, "members.consent_withdrawn", target_type="member", target_id=member.number,
        reason=reason.strip(),
    )  # fmt: skip
    return consent


# --- drafts ------------------------------------------------------------------------------------------------


def save_draft(
    session: Session, actor: Actor, *, draft_id: str | None, data: dict[str, Any], step: str
) -> EnrolmentDraft:
    """Keep what was typed (each step, and on change): a power cut loses at most the field being typed."""
    draft = None
    if draft_id:
        draft = session.scalar(
            select(EnrolmentDraft).where(
                EnrolmentDraft.public_id == draft_id, EnrolmentDraft.account_id == actor.account_id
            )
        )
    if draft is None:
        draft = EnrolmentDraft(account_id=actor.account_id, data={})
        session.add(draft)
    draft.data = {**draft.data, **{k: v for k, v in data.items() if k not in {"csrf_token", "draft"}}}
    draft.step = step
    draft.updated_at = utcnow()
    session.flush()
    return draft


def get_draft(session: Session, actor: Actor, public_id: str) -> EnrolmentDraft:
    draft = session.scalar(
        select(EnrolmentDraft).where(
            EnrolmentDraft.public_id == public_id, EnrolmentDraft.account_id == actor.account_id
        )
    )
    if draft is None:
        raise NotFound(_l("Brouillon introuvable."))
    return draft


def open_drafts(session: Session, actor: Actor) -> list[EnrolmentDraft]:
    return list(
        session.scalars(
            select(EnrolmentDraft)
            .where(EnrolmentDraft.account_id == actor.account_id, EnrolmentDraft.member_id.is_(None))
            .order_by(EnrolmentDraft.updated_at.desc())
        )
    )


def discard_draft(session: Session, actor: Actor, draft: EnrolmentDraft) -> None:
    if draft.account_id != actor.account_id:
        raise NotFound(_l("Brouillon introuvable."))
    session.delete(draft)
    session.flush()


@dataclass(frozen=True)
class Household:
    principal: Member
    dependants: list[Member] = field(default_factory=list)
