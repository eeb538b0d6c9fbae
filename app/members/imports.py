"""Bring an existing register (CSV or XLSX) into the member register: upload, column mapping, a dry run that
lists every rejected row with its reason, then the import itself as a job in batches.

Why a bulk path rather than ``services.enrol`` per row: enrol runs duplicate searches and a sequence call per
person (about ten queries a row), too slow for a 10,000-row register. Here every row goes through the same
checks (``clean_person``, association scope, ``check_eligibility``, national id uniqueness); numbers come from
the same sequence (one ``nextval`` call per batch) with the same shape, and names get the same search keys.
Rows go in ``BATCH_SIZE`` at a time, each batch committed with its counters and one audit event, so a crash
loses nothing and a rerun resumes after the last committed batch. The idempotency key
(``Member.external_ref``: the register's own number, else ``h:`` + a hash of name, birth, phone and
association) makes a second import of the same file create nothing. Possible duplicates (similar names)
never block an import: a register is what it is, and agents review homonyms later.

Every function runs in the tenant's scope and takes the actor explicitly; ``check_import`` and
``start_import`` flush and never commit; ``run_import`` (the job) commits per batch, by design.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import functools
import hashlib
import io
import logging
import re
import unicodedata
import warnings
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, String, any_, bindparam, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app import clock
from app.audit.services import record_event, record_read
from app.database import new_public_id, utcnow
from app.errors import DomainError, FieldError, Forbidden, NotFound
from app.media import path_of, save_bytes
from app.members import names, numbers, services
from app.members.models import (
    NUMBER_SEQUENCE,
    ImportStatus,
    Member,
    MemberImport,
    MemberStatus,
    MemberStatusEvent,
    Relationship,
)
from app.members.rules import TRADES, MemberRules, member_rules, trades_for
from app.members.services import COVERED, CleanPerson, PersonInput
from app.security.actor import Actor
from hierarchy.models import Node, NodeKind, NodeStatus
from tenants.context import TenantRef
from tenants.models import Tenant

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # the app's MAX_CONTENT_LENGTH
#: Past this, the synchronous dry run would stretch a request too far: the agent splits the file.
MAX_ROWS = 20_000
MAX_COLUMNS = 100
#: Rows per transaction of the job: small enough for a short lock on the audit chain, large enough to be fast.
BATCH_SIZE = 500
#: Rejected rows shown on the dry-run page (the downloadable report has them all).
PREVIEW_ROWS = 50
HASH_PREFIX = "h:"

STATUS_LABELS = {
    ImportStatus.uploaded: _l("Fichier reçu"),
    ImportStatus.mapped: _l("Colonnes choisies"),
    ImportStatus.checked: _l("Vérifié, prêt à importer"),
    ImportStatus.queued: _l("En file d'attente"),
    ImportStatus.running: _l("Import en cours"),
    ImportStatus.done: _l("Terminé"),
    ImportStatus.failed: _l("Interrompu"),
}
EDITABLE = (ImportStatus.uploaded, ImportStatus.mapped, ImportStatus.checked)
ACTIVE = (ImportStatus.queued, ImportStatus.running)


# --- target fields and the mapping guess -------------------------------------------------------------------


@dataclass(frozen=True)
class TargetField:
    code: str
    label: object
    #: Header spellings, written as ``_header_key`` gives them (no accents, lower case, "n°" → "numero").
    synonyms: tuple[str, ...]
    required: bool = False
    help: object = ""


FIELDS: tuple[TargetField, ...] = (
    TargetField("last_name", _l("Nom"), (
        "nom", "noms", "nom famille", "nom patronymique", "last name", "lastname", "surname", "family name",
        "name"), required=True),
    TargetField("first_names", _l("Prénom(s)"), (
        "prenom", "prenoms", "first name", "first names", "firstname", "given name", "given names",
        "forename", "forenames"), required=True),
    TargetField("sex", _l("Sexe"), ("sexe", "genre", "sex", "gender"), required=True,
                help=_l("F, M, Femme, Homme, féminin ou masculin.")),
    TargetField("birth", _l("Date de naissance"), (
        "date naissance", "naissance", "ne le", "nee le", "date nais", "date naiss", "dob", "birth",
        "birth date", "birthdate", "date birth", "annee naissance"), required=True,
                help=_l("JJ/MM/AAAA, AAAA-MM-JJ, ou l'année seule (1975, vers 1975).")),
    TargetField("birth_place", _l("Lieu de naissance"), (
        "lieu naissance", "ne a", "nee a", "lieu nais", "birth place", "birthplace", "place birth")),
    TargetField("national_id", _l("N° d'identification national (NIN)"), (
        "nin", "cni", "numero cni", "numero nin", "numero identification", "numero identification nationale",
        "carte identite", "numero carte identite", "piece identite", "national id", "id number",
        "national identity number")),
    TargetField("phone", _l("Téléphone"), (
        "telephone", "tel", "telephone 1", "tel 1", "portable", "mobile", "cellulaire", "contact",
        "numero telephone", "phone", "phone number", "telephone principal")),
    TargetField("phone_alt", _l("Autre téléphone"), (
        "telephone 2", "tel 2", "autre telephone", "deuxieme telephone", "second telephone",
        "telephone secondaire", "phone 2", "other phone", "alternate phone", "mobile 2")),
    TargetField("address", _l("Adresse"), ("adresse", "address", "domicile", "quartier", "residence")),
    TargetField("commune", _l("Commune"), (
        "commune", "ville", "localite", "city", "town", "municipality", "village")),
    TargetField("region", _l("Région"), ("region", "state", "province")),
    TargetField("trade", _l("Métier"), (
        "metier", "profession", "activite", "corps metier", "trade", "occupation", "job", "filiere")),
    TargetField("association", _l("Association (code)"), (
        "association", "code association", "association code", "groupement", "section"),
                help=_l("Le code d'une association de la mutuelle ; vide : l'association par défaut.")),
    TargetField("external_ref", _l("N° membre dans le registre"), (
        "numero membre", "numero adherent", "numero", "matricule", "reference", "ref", "identifiant", "id",
        "numero inscription", "numero carte", "numero registre", "member number", "member id",
        "membership number", "external ref"),
                help=_l("Recommandé : un second import du même fichier ne crée alors rien deux fois.")),
    TargetField("relationship", _l("Lien avec l'adhérent"), (
        "lien", "lien parente", "parente", "relation", "relationship", "lien avec adherent", "lien adherent",
        "qualite"), help=_l("Conjoint, enfant, autre ; vide pour un adhérent.")),
    TargetField("principal_ref", _l("N° membre de l'adhérent principal"), (
        "numero adherent principal", "adherent principal", "numero principal", "principal", "rattache a",
        "numero chef menage", "chef menage", "principal ref", "principal number", "principal member",
        "head household", "numero titulaire", "titulaire"),
                help=_l("Pour les ayants droit : le N° membre de leur adhérent ; vide pour un adhérent.")),
)  # fmt: skip
FIELD_CODES = tuple(f.code for f in FIELDS)
LABELS: dict[str, object] = {f.code: f.label for f in FIELDS}
_NUMERO = {"n", "no", "num", "nr", "numero", "nro"}
_NOISE = {"de", "d", "du", "des", "of", "the", "s", "e"}


def _header_key(header: str) -> str:
    """ "N° de membre" → "numero membre", "Prénom(s)" → "prenom", "Né(e) le" → "ne le"."""
    decomposed = unicodedata.normalize("NFKD", header.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = ["numero" if w in _NUMERO else w for w in re.findall(r"[0-9a-z]+", plain)]
    return " ".join(w for w in words if w not in _NOISE)


def guess_mapping(columns: Sequence[str]) -> dict[str, str]:
    """Target field → column, from the headers: exact synonyms first, then the longest synonym a header
    starts with ("Sexe (F/M)" → sex); each column serves one field at most."""
    keys = {column: _header_key(column) for column in columns}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for target in FIELDS:
        for column in columns:
            if column not in used and keys[column] in target.synonyms:
                mapping[target.code] = column
                used.add(column)
                break
    candidates = sorted(
        ((len(s), target.code, s) for target in FIELDS for s in target.synonyms), reverse=True
    )
    for _length, code, synonym in candidates:
        if code in mapping:
            continue
        for column in columns:
            if column not in used and keys[column].startswith(synonym + " "):
                mapping[code] = column
                used.add(column)
                break
    return mapping


# --- reading the file --------------------------------------------------------------------------------------


@dataclass
class Table:
    columns: list[str]
    #: (line number in the file, cells as text, as many as columns); blank rows left out.
    rows: list[tuple[int, list[str]]]
    kind: str  # "csv" | "xlsx"


def _format_error() -> FieldError:
    return FieldError("file", _l("Format non reconnu : envoyez un fichier CSV ou Excel (.xlsx)."))


def read_table(data: bytes) -> Table:
    """The header and rows of a CSV (``;`` or ``,``; UTF-8 or Windows-1252) or of an XLSX's first sheet."""
    if not data.strip():
        raise FieldError("file", _l("Le fichier est vide."))
    if data.startswith(b"PK\x03\x04"):
        kind, records = "xlsx", _xlsx_records(data)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FieldError(
            "file",
            _l("Les fichiers .xls (Excel 97-2003) ne sont pas lus : enregistrez-le en .xlsx ou en CSV."),
        )
    else:
        kind, records = "csv", _csv_records(data)
    return _table(records, kind)


def _table(records: Iterable[tuple[int, list[str]]], kind: str) -> Table:
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for line, cells in records:
        if not any(cells):
            continue
        if header is None:
            header = _header(cells)
            continue
        if len(rows) >= MAX_ROWS:
            raise FieldError(
                "file",
                _l(
                    "Le fichier compte plus de %(max)s lignes : découpez-le en plusieurs fichiers.",
                    max=MAX_ROWS,
                ),
            )
        rows.append((line, (cells + [""] * len(header))[: len(header)]))
    if header is None:
        raise FieldError("file", _l("Le fichier est vide."))
    if not any(re.search(r"[^\W\d_]", name) for name in header):
        raise FieldError(
            "file",
            _l(
                "Pas d'en-tête : la première ligne doit donner le nom des colonnes (Nom, Prénom, Sexe, "
                "Date de naissance…)."
            ),
        )
    if not rows:
        raise FieldError("file", _l("Le fichier ne contient que l'en-tête : aucune ligne à importer."))
    return Table(columns=header, rows=rows, kind=kind)


def _header(cells: list[str]) -> list[str]:
    """Column names as shown in the mapping: blank ones named by position, repeated ones numbered."""
    while cells and not cells[-1]:
        cells = cells[:-1]
    if len(cells) > MAX_COLUMNS:
        raise FieldError("file", _l("Trop de colonnes (%(max)s au plus).", max=MAX_COLUMNS))
    seen: Counter[str] = Counter()
    header = []
    for position, cell in enumerate(cells, start=1):
        name = " ".join(cell.split())[:80] or str(_l("Colonne %(n)s", n=position))
        seen[name] += 1
        header.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return header


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text" export
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "cp1252")
    for encoding in encodings:
        try:
            decoded = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in decoded:
            return decoded
    raise _format_error()


def _csv_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    content = _decode(data)
    first_line = next((line for line in content.splitlines() if line.strip()), "")
    try:
        delimiter = csv.Sniffer().sniff(content[:65536], delimiters=";,\t").delimiter
    except csv.Error:
        delimiter = ""
    if delimiter not in first_line:  # a file of one column, or a sample the sniffer misread
        delimiter = max(";,\t", key=first_line.count)
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    try:
        for line, cells in enumerate(reader, start=1):
            yield line, [cell.strip() for cell in cells]
    except csv.Error as bad:
        raise _format_error() from bad


def _xlsx_records(data: bytes) -> Iterator[tuple[int, list[str]]]:
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles and extensions it skips
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as bad:
        raise _format_error() from bad
    except Exception as bad:  # openpyxl's own errors (InvalidFileException, XML parse errors…)
        raise _format_error() from bad
    try:
        if not book.worksheets:
            raise _format_error()
        sheet = book.worksheets[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, [_cell_text(v) for v in values]
    finally:
        book.close()


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text an agent would have typed (dates day first, whole numbers plain)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())


# --- uploads -----------------------------------------------------------------------------------------------


def _tenant_record(session: Session, tenant: TenantRef) -> Tenant:
    record = session.get(Tenant, tenant.id)
    assert record is not None
    return record


def associations_for(session: Session, tenant: TenantRef, actor: Actor) -> list[Node]:
    """Open associations of the mutual where the actor may enrol: the choices of the default association."""
    nodes = services.associations_in_reach(session, actor, tenant, "members.enrol")
    return [n for n in nodes if n.status is not NodeStatus.closed]


def require_access(session: Session, tenant: TenantRef, actor: Actor) -> None:
    """Imports are for those who may enrol somewhere in this mutual (others: 403)."""
    if not services.associations_in_reach(session, actor, tenant, "members.enrol"):
        raise Forbidden(_l("Vous n'avez pas le droit d'importer des adhérents dans cette mutuelle."))


def _visible(session: Session, tenant: TenantRef, actor: Actor, record: MemberImport) -> bool:
    if actor.account_id is not None and record.created_by_id == actor.account_id:
        return True
    node = session.get(Node, record.association_id) if record.association_id else None
    node = node or services.tenant_federation(session, tenant)
    return actor.can("members.enrol", node.path)


def list_imports(session: Session, tenant: TenantRef, actor: Actor) -> list[MemberImport]:
    require_access(session, tenant, actor)
    rows = session.scalars(select(MemberImport).order_by(MemberImport.id.desc()).limit(200))
    return [r for r in rows if _visible(session, tenant, actor, r)]


def get_import(
    session: Session, tenant: TenantRef, actor: Actor, public_id: str, *, for_update: bool = False
) -> MemberImport:
    """An import of this mutual that the actor may see (its author, or who may enrol where it imports)."""
    require_access(session, tenant, actor)
    query = select(MemberImport).where(MemberImport.public_id == public_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    record = session.scalar(query)
    if record is None or not _visible(session, tenant, actor, record):
        raise NotFound(_l("Import introuvable."))
    return record


def create_import(
    session: Session, tenant: TenantRef, actor: Actor, *, filename: str, data: bytes
) -> MemberImport:
    """Keep an uploaded register (file under the media folder, header in the row) and guess the mapping."""
    require_access(session, tenant, actor)
    if len(data) > MAX_BYTES:
        raise FieldError("file", _l("Le fichier dépasse 10 Mo : découpez-le en plusieurs fichiers."))
    table = read_table(data)
    choices = associations_for(session, tenant, actor)
    record = MemberImport(
        filename=(filename or "registre").rsplit("/", 1)[-1].rsplit("\\", 1)[-1][:200],
        stored_path=save_bytes(tenant, "imports", data, suffix=table.kind),
        file_sha256=hashlib.sha256(data).hexdigest(),
        columns=table.columns,
        mapping=guess_mapping(table.columns),
        association_id=choices[0].id if len(choices) == 1 else None,
        status=ImportStatus.uploaded,
        total_rows=len(table.rows),
        created_by_id=actor.account_id,
        created_by_label=actor.label,
    )
    session.add(record)
    session.flush()
    record_event(
        session, actor, "members.import_uploaded", target_type="member_import", target_id=record.public_id,
        after={"filename": record.filename, "sha256": record.file_sha256, "rows": record.total_rows,
               "columns": record.columns},
    )  # fmt: skip
    return record


def earlier_imports_of_same_file(session: Session, record: MemberImport) -> list[MemberImport]:
    """Same bytes imported before: the agent is told (a second import creates nothing anyway)."""
    return list(
        session.scalars(
            select(MemberImport).where(
                MemberImport.file_sha256 == record.file_sha256,
                MemberImport.id != record.id,
                MemberImport.status == ImportStatus.done,
            )
        )
    )


def load_table(tenant: TenantRef, record: MemberImport) -> Table:
    return read_table(path_of(tenant, record.stored_path).read_bytes())


# --- mapping -----------------------------------------------------------------------------------------------


def _clean_mapping(
    columns: Sequence[str], mapping: dict[str, str], association_id: int | None
) -> dict[str, str]:
    """Known fields, known columns, each column once; the required fields; the pairs that go together."""
    chosen = {code: column for code, column in mapping.items() if code in FIELD_CODES and column}
    owner: dict[str, str] = {}
    for target in FIELDS:
        column = chosen.get(target.code)
        if column is None:
            continue
        if column not in columns:
            raise FieldError(f"col_{target.code}", _l("Cette colonne n'existe pas dans le fichier."))
        if column in owner:
            raise FieldError(
                f"col_{target.code}",
                _l("Cette colonne est déjà choisie pour « %(field)s ».", field=LABELS[owner[column]]),
            )
        owner[column] = target.code
    for target in FIELDS:
        if target.required and target.code not in chosen:
            raise FieldError(f"col_{target.code}", _l("Choisissez la colonne de ce champ obligatoire."))
    if "principal_ref" in chosen and "relationship" not in chosen:
        raise FieldError(
            "col_relationship", _l("Les ayants droit ont besoin de la colonne du lien avec l'adhérent.")
        )
    if "relationship" in chosen and "principal_ref" not in chosen:
        raise FieldError(
            "col_principal_ref",
            _l("Pour rattacher les ayants droit, choisissez la colonne du N° de leur adhérent."),
        )
    if "principal_ref" in chosen and "external_ref" not in chosen:
        raise FieldError(
            "col_external_ref",
            _l("Les ayants droit se rattachent au N° membre de leur adhérent : choisissez cette colonne."),
        )
    if "association" not in chosen and association_id is None:
        raise FieldError(
            "association", _l("Choisissez l'association des membres importés (ou la colonne de son code).")
        )
    return chosen


def _require_editable(record: MemberImport) -> None:
    if record.status not in EDITABLE:
        raise DomainError(_l("Cet import est déjà lancé : ses colonnes ne peuvent plus changer."))


# --- the dry run -------------------------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    create = "create"
    skip = "skip"  # already in the register (same idempotency key)
    reject = "reject"


@dataclass
class RowPlan:
    """What becomes of one row of the file."""

    line: int
    cells: list[str]
    outcome: Outcome = Outcome.create
    reason: str = ""
    person: CleanPerson | None = None
    key: str = ""
    association_id: int = 0
    relation: Relationship = Relationship.principal
    #: Ayants droit: the external_ref of their adhérent (in the file or already in the register).
    principal_key: str | None = None

    def reject(self, error: FieldError | DomainError) -> None:
        label = LABELS.get(getattr(error, "field", ""))
        message = str(error.message)
        self.outcome, self.reason = Outcome.reject, f"{label} : {message}" if label else message


@dataclass
class Plan:
    #: In the order the job processes them: adhérents first, then ayants droit, each in file order (stable,
    #: so a resumed job continues at the same place).
    rows: list[RowPlan] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.rows if r.outcome is outcome)

    @property
    def rejected(self) -> list[RowPlan]:
        return sorted((r for r in self.rows if r.outcome is Outcome.reject), key=lambda r: r.line)


_SEX = {
    "f": "F", "femme": "F", "feminin": "F", "female": "F", "woman": "F",
    "m": "M", "h": "M", "homme": "M", "masculin": "M", "male": "M", "man": "M",
}  # fmt: skip
_RELATIONSHIPS: dict[str, Relationship] = {
    **dict.fromkeys(("", "adherent", "adherente", "principal", "titulaire", "chef menage", "chef famille",
                     "assure", "assure principal", "lui meme", "elle meme", "self", "member"),
                    Relationship.principal),
    **dict.fromkeys(("conjoint", "conjointe", "epoux", "epouse", "mari", "femme", "spouse", "wife",
                     "husband", "partner"), Relationship.spouse),
    **dict.fromkeys(("enfant", "fils", "fille", "child", "son", "daughter"), Relationship.child),
    **dict.fromkeys(("autre", "other", "parent", "pere", "mere", "ascendant", "frere", "soeur", "neveu",
                     "niece", "tuteur", "tutrice"), Relationship.other),
}  # fmt: skip
_TIME_SUFFIX = re.compile(r"^(\S+)\s+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?$")
_TRADE_ENDINGS = (("ieres", "ier"), ("iere", "ier"), ("euses", "eur"), ("euse", "eur"), ("s", ""), ("e", ""))


def _sex(raw: str) -> str:
    if not raw:
        return ""
    sex = _SEX.get(names.name_key(raw))
    if sex is None:
        raise FieldError("sex", _l("« %(value)s » : F ou M, Femme ou Homme attendu.", value=raw))
    return sex


def _birth(raw: str) -> str:
    """Spreadsheet exports write "1985-03-12 00:00:00" or "1975.0": keep the date or the year."""
    value = raw.strip()
    if timed := _TIME_SUFFIX.fullmatch(value):
        value = timed.group(1)
    if re.fullmatch(r"\d{4}\.0+", value):
        value = value.split(".")[0]
    return value


def _relationship(raw: str) -> Relationship:
    found = _RELATIONSHIPS.get(names.name_key(raw))
    if found is None:
        raise FieldError("relationship", _l("« %(value)s » : conjoint, enfant ou autre attendu.", value=raw))
    return found


@functools.cache
def _trade_keys(sector: str) -> dict[str, str]:
    return {names.name_key(t): t for t in trades_for(sector)}


def _trade(raw: str, sector: str) -> str:
    """The sector's own spelling of a trade typed in any case, with or without accents, feminine or plural
    ("Couturière" → "couturier"); an unknown trade stays as typed and ``clean_person`` refuses it."""
    value = " ".join(raw.split())
    if not value or sector not in TRADES:
        return value
    known = _trade_keys(sector)
    key = names.name_key(value)
    if key in known:
        return known[key]
    for ending, replacement in _TRADE_ENDINGS:
        if key.endswith(ending) and (candidate := key[: -len(ending)] + replacement) in known:
            return known[candidate]
    return value


def _ref(raw: str, field_name: str) -> str:
    value = " ".join(raw.split())
    if len(value) > 60:
        raise FieldError(field_name, _l("60 caractères au plus."))
    return value


def _hash_key(person: CleanPerson, association_id: int, principal_ref: str = "") -> str:
    """The idempotency key of a row without the register's own number: same person, same key."""
    birth = person.birth_date.isoformat() if person.birth_date else str(person.birth_year)
    identity = "|".join((person.name_key, birth, person.phone or "", str(association_id), principal_ref))
    return HASH_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:40]


def _any(values: Iterable[object], item_type: Any = String) -> Any:
    """``= ANY(:array)``: one parameter for thousands of values."""
    return any_(bindparam(None, value=list(values), type_=ARRAY(item_type)))


@dataclass
class _Context:
    """What every row is checked against, loaded once per plan."""

    rules: MemberRules
    sector: str
    today: dt.date
    by_code: dict[str, Node]
    default: Node | None
    actor: Actor
    #: Seen in the file so far: idempotency key → line, national id → line.
    keys: dict[str, int] = field(default_factory=dict)
    national_ids: dict[str, int] = field(default_factory=dict)

    def association(self, code: str) -> Node:
        if code:
            node = self.by_code.get(code.casefold())
            if node is None:
                raise FieldError(
                    "association", _l("Code « %(code)s » inconnu dans cette mutuelle.", code=code)
                )
        elif self.default is not None:
            node = self.default
        else:
            raise FieldError("association", _l("Indiquez le code de l'association."))
        if not self.actor.can("members.enrol", node.path):
            raise FieldError(
                "association",
                _l("Vous ne pouvez pas inscrire de membres à « %(name)s ».", name=node.name),
            )
        if node.status is NodeStatus.closed:
            raise FieldError("association", _l("Cette association est fermée."))
        return node


def plan_import(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    record: MemberImport,
    table: Table,
    *,
    today: dt.date | None = None,
) -> Plan:
    """Check every row as enrolment would and decide: create, already there (skip) or reject with a reason.
    Reads only; nothing is written."""
    today = today or clock.today()
    federation = services.tenant_federation(session, tenant)
    associations = session.scalars(
        select(Node).where(Node.kind == NodeKind.association, Node.path.startswith(federation.path))
    )
    context = _Context(
        rules=member_rules(session, tenant),
        sector=_tenant_record(session, tenant).sector,
        today=today,
        by_code={n.code.casefold(): n for n in associations},
        default=session.get(Node, record.association_id) if record.association_id else None,
        actor=actor,
    )
    index = {code: table.columns.index(column) for code, column in record.mapping.items()}
    principals: list[RowPlan] = []
    dependants: list[RowPlan] = []
    for line, cells in table.rows:
        row = RowPlan(line=line, cells=cells)
        values = {code: cells[i] for code, i in index.items()}
        try:
            principal_ref = _ref(values.get("principal_ref", ""), "principal_ref")
            row.principal_key = principal_ref or None
            external_ref = _ref(values.get("external_ref", ""), "external_ref")
            row.person, node, row.relation = _read_row(values, context, principal_ref)
            if principal_ref:
                row.key = external_ref if external_ref != principal_ref else ""  # else: hashed once attached
            else:
                assert node is not None
                row.association_id = node.id
                row.key = external_ref or _hash_key(row.person, node.id)
        except FieldError as error:
            row.reject(error)
        (dependants if row.principal_key else principals).append(row)
    _against_file_and_register(session, context, principals)
    _attach_dependants(session, context, principals, dependants)
    _against_file_and_register(session, context, dependants)
    _check_households(session, context, principals, dependants)
    return Plan(rows=principals + dependants)


def _read_row(
    values: dict[str, str], context: _Context, principal_ref: str
) -> tuple[CleanPerson, Node | None, Relationship]:
    relation = _relationship(values.get("relationship", "")) if "relationship" in values else None
    if principal_ref and relation in (None, Relationship.principal):
        raise FieldError("relationship", _l("Indiquez le lien avec l'adhérent : conjoint, enfant ou autre."))
    if not principal_ref and relation not in (None, Relationship.principal):
        raise FieldError(
            "principal_ref", _l("Un ayant droit se rattache à son adhérent : indiquez le N° de l'adhérent.")
        )
    person = services.clean_person(
        PersonInput(
            last_name=values.get("last_name", ""), first_names=values.get("first_names", ""),
            sex=_sex(values.get("sex", "")), birth=_birth(values.get("birth", "")),
            birth_place=values.get("birth_place", ""), national_id=values.get("national_id", ""),
            phone=values.get("phone", ""), phone_alt=values.get("phone_alt", ""),
            address=values.get("address", ""), commune=values.get("commune", ""),
            region=values.get("region", ""), trade=_trade(values.get("trade", ""), context.sector),
        ),
        today=context.today, sector=context.sector,
    )  # fmt: skip
    node = None if principal_ref else context.association(values.get("association", ""))
    return person, node, relation or Relationship.principal


def _first_by_key(rows: Iterable[RowPlan]) -> dict[str, RowPlan]:
    """Adhérents of the file by their register number (the first row holding it)."""
    found: dict[str, RowPlan] = {}
    for row in rows:
        if row.key and not row.key.startswith(HASH_PREFIX):
            found.setdefault(row.key, row)
    return found


def _attach_dependants(
    session: Session, context: _Context, principals: list[RowPlan], dependants: list[RowPlan]
) -> None:
    """An ayant droit joins its adhérent: a row of the file, or an adhérent already in the register."""
    in_file = _first_by_key(principals)
    outside = {r.principal_key for r in dependants if r.principal_key not in in_file}
    registered: dict[str, tuple[int | None, int]] = {}
    if outside:
        registered = {
            ref: (principal_id, association_id)
            for ref, principal_id, association_id in session.execute(
                select(Member.external_ref, Member.principal_id, Member.association_id).where(
                    Member.external_ref == _any(outside)
                )
            )
        }
    nodes = {n.id: n for n in context.by_code.values()}
    for row in dependants:
        ref = row.principal_key
        if row.outcome is Outcome.reject or row.person is None or ref is None:
            continue
        if ref in in_file:
            principal = in_file[ref]
            if principal.outcome is Outcome.reject:
                row.reject(
                    FieldError("principal_ref", _l("adhérent rejeté (ligne %(line)s).", line=principal.line))
                )
                continue
            row.association_id = principal.association_id
        elif ref in registered:
            principal_id, association_id = registered[ref]
            node = nodes.get(association_id)
            if principal_id is not None:
                row.reject(
                    FieldError(
                        "principal_ref", _l("« %(ref)s » est un ayant droit, pas un adhérent.", ref=ref)
                    )
                )
                continue
            if node is None or not context.actor.can("members.enrol", node.path):
                row.reject(FieldError("principal_ref", _l("adhérent hors de votre périmètre.")))
                continue
            row.association_id = association_id
        else:
            row.reject(
                FieldError(
                    "principal_ref",
                    _l("adhérent « %(ref)s » introuvable, ni dans le fichier ni dans la mutuelle.", ref=ref),
                )
            )
            continue
        row.key = row.key or _hash_key(row.person, row.association_id, ref)


def _against_file_and_register(session: Session, context: _Context, rows: list[RowPlan]) -> None:
    """Rows met twice in the file are rejected; rows already imported are skipped (same key and name);
    a key taken by someone else, or a national id already used, rejects the row."""
    alive = [r for r in rows if r.outcome is Outcome.create]
    keys = [r.key for r in alive]
    registered = {
        ref: (name_key, number, full_name)
        for ref, name_key, number, full_name in session.execute(
            select(
                Member.external_ref, Member.name_key, Member.number,
                Member.first_names + " " + Member.last_name,
            ).where(Member.external_ref == _any(keys))
        )
    } if keys else {}  # fmt: skip
    national_ids = [r.person.national_id for r in alive if r.person and r.person.national_id]
    taken_ids = (
        set(session.scalars(select(Member.national_id).where(Member.national_id == _any(national_ids))))
        if national_ids
        else set()
    )
    seen_keys, seen_ids = context.keys, context.national_ids
    for row in sorted(alive, key=lambda r: r.line):
        assert row.person is not None
        if row.key in seen_keys:
            what = (
                _l("même personne qu'à la ligne %(line)s.", line=seen_keys[row.key])
                if row.key.startswith(HASH_PREFIX)
                else _l("même N° membre qu'à la ligne %(line)s.", line=seen_keys[row.key])
            )
            row.reject(DomainError(_l("Ligne en double : %(what)s", what=what)))
            continue
        seen_keys[row.key] = row.line
        if row.key in registered:
            name_key, number, full_name = registered[row.key]
            if name_key == row.person.name_key:
                row.outcome = Outcome.skip
                continue
            row.reject(
                FieldError(
                    "external_ref",
                    _l("N° déjà attribué à %(name)s (%(number)s).", name=full_name, number=number),
                )
            )
            continue
        national_id = row.person.national_id
        if national_id and national_id in seen_ids:
            row.reject(
                FieldError(
                    "national_id", _l("même numéro qu'à la ligne %(line)s.", line=seen_ids[national_id])
                )
            )
        elif national_id and national_id in taken_ids:
            row.reject(
                FieldError("national_id", _l("Ce numéro d'identification est déjà celui d'un autre membre."))
            )
        elif national_id:
            seen_ids[national_id] = row.line


def _check_households(
    session: Session, context: _Context, principals: list[RowPlan], dependants: list[RowPlan]
) -> None:
    """The mutual's rules for each ayant droit (relationship, child age limit, household size), counting
    who is already covered in the register and who the file adds before it."""
    refs = {r.principal_key for r in dependants if r.principal_key and r.outcome is not Outcome.reject}
    size: dict[str, int] = {}
    if refs:
        principal = Member.__table__.alias("principal")
        covered_dependants = (
            select(func.count())
            .select_from(Member)
            .where(Member.principal_id == principal.c.id, Member.status.in_(COVERED))
            .scalar_subquery()
        )
        rows = session.execute(
            select(principal.c.external_ref, principal.c.status, covered_dependants).where(
                principal.c.external_ref == _any(refs)
            )
        )
        for ref, status, count in rows:
            size[ref] = count + (1 if status in COVERED else 0)
    for row in dependants:
        ref = row.principal_key
        if ref is None or row.outcome is not Outcome.create:
            continue  # rejected, or already in the register (counted with its household)
        assert row.person is not None
        size.setdefault(ref, 1)  # an adhérent of this file, not in the register yet
        try:
            services.check_eligibility(
                context.rules, row.person, row.relation.value, size[ref], context.today
            )
        except FieldError as error:
            row.reject(error)
            continue
        size[ref] += 1


def check_import(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    record: MemberImport,
    *,
    mapping: dict[str, str],
    association_id: int | None,
    today: dt.date | None = None,
) -> Plan:
    """Keep the mapping and run the dry run: counts on the import, every rejected row in a CSV report."""
    _require_editable(record)
    chosen = _clean_mapping(record.columns, mapping, association_id)
    if association_id is not None:
        services.require_association(session, actor, tenant, association_id, "members.enrol")
    record.mapping, record.association_id, record.status = chosen, association_id, ImportStatus.mapped
    session.flush()
    table = load_table(tenant, record)
    plan = plan_import(session, tenant, actor, record, table, today=today)
    record.report_path = write_report(tenant, table, plan)
    record.total_rows = len(table.rows)
    record.processed_rows = 0
    record.created_count = plan.count(Outcome.create)
    record.skipped_count = plan.count(Outcome.skip)
    record.rejected_count = plan.count(Outcome.reject)
    record.status = ImportStatus.checked
    record_event(
        session, actor, "members.import_checked", target_type="member_import", target_id=record.public_id,
        after={"mapping": chosen, "association_id": association_id, "rows": record.total_rows,
               "to_create": record.created_count, "already_there": record.skipped_count,
               "rejected": record.rejected_count},
    )  # fmt: skip
    return plan


# --- the report of rejected rows ---------------------------------------------------------------------------

_FORMULA_START = ("=", "@", "\t", "\r")


def _safe_cell(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (phone numbers like "+221…" stay as they are)."""
    risky = value.startswith(_FORMULA_START) or (
        value[:1] in ("+", "-") and not re.fullmatch(r"[+-][\d\s().-]*", value)
    )
    if risky:
        return "'" + value
    return value


def write_report(tenant: TenantRef, table: Table, plan: Plan) -> str | None:
    """Rejected rows as they were in the file, with "ligne" and "motif" (CSV for French Excel: ``;``, BOM)."""
    rejected = plan.rejected
    if not rejected:
        return None
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["ligne", *table.columns, "motif"])
    for row in rejected:
        writer.writerow([row.line, *(_safe_cell(c) for c in row.cells), row.reason])
    return save_bytes(tenant, "reports", buffer.getvalue().encode("utf-8-sig"), suffix="csv")


def report_preview(
    tenant: TenantRef, record: MemberImport, limit: int = PREVIEW_ROWS
) -> list[tuple[str, str]]:
    """The first rejected rows (line, reason) for the screen."""
    if not record.report_path:
        return []
    with path_of(tenant, record.report_path).open(encoding="utf-8-sig", newline="") as stream:
        reader = csv.reader(stream, delimiter=";")
        next(reader, None)
        return [(row[0], row[-1]) for _i, row in zip(range(limit), reader, strict=False)]


def open_report(session: Session, tenant: TenantRef, actor: Actor, record: MemberImport) -> bytes:
    """The report's bytes; reading rows of personal data is audited."""
    if not record.report_path:
        raise NotFound(_l("Aucune ligne rejetée : pas de rapport."))
    record_read(session, actor, "member_import_report", record.public_id)
    return path_of(tenant, record.report_path).read_bytes()


# --- the job -----------------------------------------------------------------------------------------------


def start_import(
    session: Session, tenant: TenantRef, actor: Actor, record: MemberImport, *, enqueue: bool = True
) -> MemberImport:
    """Queue the job after a dry run (or resume an interrupted one where it stopped); sent after commit."""
    if record.status is ImportStatus.checked:
        record.processed_rows = record.created_count = record.skipped_count = record.rejected_count = 0
        action = "members.import_started"
    elif record.status is ImportStatus.failed:
        action = "members.import_resumed"
    elif record.status in ACTIVE:
        raise DomainError(_l("Cet import est déjà en cours."))
    else:
        raise DomainError(_l("Vérifiez d'abord le fichier (essai à blanc) avant de l'importer."))
    record.status, record.error, record.finished_at = ImportStatus.queued, None, None
    session.flush()
    record_event(
        session, actor, action, target_type="member_import", target_id=record.public_id,
        after={"rows": record.total_rows, "from_row": record.processed_rows},
    )  # fmt: skip
    if enqueue:
        from app.members.tasks import run_member_import
        from app.worker import enqueue_after_commit

        enqueue_after_commit(session, run_member_import, record.public_id, actor.account_id)
    return record


def job_actor(session: Session, account_id: int | None) -> Actor:
    """Who the job acts as: the person who launched it, with their grants as they are now."""
    from app.security.actor import actor_for
    from app.security.models import Account, AccountStatus

    if account_id is None:
        return Actor.system("import")
    account = session.get(Account, account_id)
    if account is None or account.status is not AccountStatus.active:
        raise DomainError(_l("Le compte qui a lancé l'import n'est plus actif."))
    return actor_for(account)


def _lock(session: Session, public_id: str) -> MemberImport:
    record = session.scalar(
        select(MemberImport)
        .where(MemberImport.public_id == public_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if record is None:
        raise NotFound(_l("Import introuvable."))
    return record


def run_import(
    session: Session,
    tenant: TenantRef,
    actor: Actor,
    public_id: str,
    *,
    batch_size: int = BATCH_SIZE,
    today: dt.date | None = None,
) -> MemberImport:
    """The job: check the file again (the register may have changed since the dry run), then import from
    the first row not yet done, one committed batch at a time. Commits itself, by design."""
    today = today or clock.today()
    record = _lock(session, public_id)
    if record.status not in ACTIVE:
        session.commit()
        return record  # done, or not launched: a duplicate or stale message does nothing
    record.status, record.started_at = ImportStatus.running, record.started_at or utcnow()
    session.commit()
    try:
        table = load_table(tenant, record)
        plan = plan_import(session, tenant, actor, record, table, today=today)
        report = write_report(tenant, table, plan)
        record = _lock(session, public_id)
        record.report_path, record.total_rows = report, len(table.rows)
        session.commit()
        rules = member_rules(session, tenant)
        while True:
            record = _lock(session, public_id)  # one runner at a time per batch, at the committed place
            if record.status is not ImportStatus.running:
                session.commit()
                return record
            start = record.processed_rows
            chunk = plan.rows[start : start + batch_size]
            if not chunk:
                break
            created, skipped = _insert_batch(session, actor, chunk, rules, today)
            record.processed_rows = start + len(chunk)
            record.created_count += len(created)
            record.skipped_count += skipped
            record.rejected_count += sum(1 for r in chunk if r.outcome is Outcome.reject)
            if created:
                record_event(
                    session, actor, "members.imported", target_type="member_import", target_id=public_id,
                    after={"rows": [start + 1, start + len(chunk)], "numbers": created},
                )  # fmt: skip
            session.commit()
        record.status, record.finished_at = ImportStatus.done, utcnow()
        record_event(
            session, actor, "members.import_finished", target_type="member_import", target_id=public_id,
            after={"rows": record.total_rows, "created": record.created_count,
                   "already_there": record.skipped_count, "rejected": record.rejected_count},
        )  # fmt: skip
        session.commit()
        return record
    except Exception as error:
        session.rollback()
        log.exception("member import %s failed", public_id)
        message = error.message if isinstance(error, DomainError) else None
        fail(session, actor, public_id, message)
        raise


def fail(session: Session, actor: Actor, public_id: str, message: object = None) -> MemberImport:
    """Mark the job interrupted, with a message for the agent; committed batches stay, it can resume."""
    record = _lock(session, public_id)
    record.status, record.finished_at = ImportStatus.failed, utcnow()
    record.error = str(
        message or _l("Erreur inattendue : l'import s'est arrêté. Les lots déjà enregistrés sont gardés.")
    )
    record_event(
        session, actor, "members.import_failed", target_type="member_import", target_id=public_id,
        outcome="error", after={"processed": record.processed_rows, "error": record.error},
    )  # fmt: skip
    session.commit()
    return record


def _insert_batch(
    session: Session, actor: Actor, chunk: Sequence[RowPlan], rules: MemberRules, today: dt.date
) -> tuple[list[str], int]:
    """Insert the batch's new members (adhérents, then ayants droit) with their first status event.
    Returns the numbers created and how many rows turned out to be there already."""
    wanted = [r for r in chunk if r.outcome is Outcome.create]
    if not wanted:
        return [], sum(1 for r in chunk if r.outcome is Outcome.skip)
    existing = set(
        session.scalars(select(Member.external_ref).where(Member.external_ref == _any(r.key for r in wanted)))
    )
    todo = [r for r in wanted if r.key not in existing]  # written by an earlier or a parallel run
    skipped = sum(1 for r in chunk if r.outcome is Outcome.skip) + len(wanted) - len(todo)
    if not todo:
        return [], skipped
    now = utcnow()
    rows: list[dict[str, Any]] = []
    principals = [r for r in todo if r.principal_key is None]
    households = session.scalars(
        text("SELECT nextval(:sequence) FROM generate_series(1, :n)"),
        {"sequence": NUMBER_SEQUENCE, "n": len(principals)},
    ).all()
    for row, household in zip(principals, households, strict=True):
        number = numbers.MemberNumber(rules.number_prefix, int(household), 0)
        rows.append(_member_values(row, str(number), None, MemberStatus.pending, actor, today, now))
    dependants = [r for r in todo if r.principal_key is not None]
    created = _insert_members(session, rows)
    if dependants:
        created += _insert_members(session, _dependant_values(session, dependants, actor, today, now))
    reason = str(_l("Import du registre"))
    session.execute(
        insert(MemberStatusEvent),
        [
            {"member_id": member_id, "from_status": None, "to_status": status, "reason": reason,
             "effective_on": today, "at": now, "actor_id": actor.account_id, "actor_label": actor.label}
            for member_id, _number, status in created
        ],
    )  # fmt: skip
    return [number for _id, number, _status in created], skipped


def _member_values(
    row: RowPlan, number: str, principal_id: int | None, status: MemberStatus, actor: Actor, today: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    person = row.person
    assert person is not None
    identity = {name: getattr(person, name) for name in CleanPerson.__dataclass_fields__}
    return {
        **identity, "public_id": new_public_id(), "number": number, "principal_id": principal_id,
        "relation": row.relation, "association_id": row.association_id, "enrolled_on": today,
        "status": status, "status_changed_at": now, "name_key": person.name_key,
        "name_trigrams": names.trigrams(person.name_key), "external_ref": row.key, "created_at": now,
        "created_by_id": actor.account_id, "updated_at": now,
    }  # fmt: skip


def _dependant_values(
    session: Session, dependants: list[RowPlan], actor: Actor, today: dt.date, now: dt.datetime
) -> list[dict[str, Any]]:
    """Each ayant droit gets its adhérent's household number, the next rank, and its adhérent's status."""
    refs = {r.principal_key for r in dependants if r.principal_key}
    principals = {
        ref: (member_id, number, status)
        for ref, member_id, number, status in session.execute(
            select(Member.external_ref, Member.id, Member.number, Member.status).where(
                Member.external_ref == _any(refs), Member.principal_id.is_(None)
            )
        )
    }
    ranks: dict[int, int] = {}
    household_ids = [member_id for member_id, _number, _status in principals.values()]
    for principal_id, number in session.execute(
        select(Member.principal_id, Member.number).where(Member.principal_id == _any(household_ids, Integer))
    ):
        parsed = numbers.parse(number)
        ranks[principal_id] = max(ranks.get(principal_id, 0), parsed.rank if parsed else 0)
    values = []
    for row in dependants:
        if row.principal_key not in principals:
            raise RuntimeError(f"import {row.line}: adhérent {row.principal_key!r} missing at write time")
        principal_id, principal_number, status = principals[row.principal_key]
        parsed = numbers.parse(principal_number)
        assert parsed is not None
        ranks[principal_id] = ranks.get(principal_id, 0) + 1
        number = numbers.MemberNumber(parsed.prefix, parsed.household, ranks[principal_id])
        values.append(_member_values(row, str(number), principal_id, status, actor, today, now))
    return values


@functools.cache
def _column_keys() -> dict[str, str]:
    """Attribute name → column name ("relation" is the column "relationship")."""
    return {attr.key: attr.columns[0].key for attr in Member.__mapper__.column_attrs}


def _insert_members(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """Multi-row INSERT … RETURNING (id, number, status); the order of rows returned does not matter.
    A Core insert with every column in every row: the ORM's bulk path would split the batch into one
    statement per pattern of empty columns (thousands of statements for a register)."""
    if not rows:
        return []
    table, columns = Member.__table__, _column_keys()
    values = [{columns[key]: value for key, value in row.items()} for row in rows]
    returned = session.execute(insert(table).returning(table.c.id, table.c.number, table.c.status), values)
    return [(member_id, number, str(status)) for member_id, number, status in returned]
