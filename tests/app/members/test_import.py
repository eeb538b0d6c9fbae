"""Register imports: reading CSV/XLSX, the mapping guess, the dry run's rejected rows and report, the job in
batches (idempotent, resumable), a real worker, the screens and their scope."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import re
import time
import uuid

import openpyxl
import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import func, select

from app.audit.models import TenantAuditEvent
from app.errors import FieldError
from app.extensions import db
from app.members import imports, numbers
from app.members import tasks as member_tasks
from app.members.models import (
    ImportStatus,
    Member,
    MemberImport,
    MemberStatus,
    MemberStatusEvent,
    Relationship,
)
from app.worker import TENANT_HEADER
from tenants.context import tenant_scope
from tests.fixtures.app import SYSTEM, node

HEADER = ["N° membre", "Nom", "Prénom(s)", "Sexe", "Date de naissance", "Téléphone", "Métier", "Lien",
          "N° adhérent principal"]  # fmt: skip


def token() -> str:
    return uuid.uuid4().hex[:8]


def phone() -> str:
    return f"77 {random.randint(100, 999)} {random.randint(10, 99)} {random.randint(10, 99)}"  # noqa: S311


def csv_bytes(
    rows: list[list[str]], header: list[str] = HEADER, *, delimiter: str = ";", encoding="utf-8-sig"
):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def household(ref: str, tag: str) -> list[list[str]]:
    """An adhérent, a spouse and a child, written as registers do (the ayants droit point to the adhérent)."""
    return [
        [ref, f"Diop{tag}", "Awa", "Femme", "12/03/1985", phone(), "Couturière", "", ""],
        ["", f"Diop{tag}", "Moussa", "M", "vers 1980", "", "menuisier", "conjoint", ref],
        ["", f"Diop{tag}", "Fatou", "féminin", "2015-06-01", "", "", "enfant", ref],
    ]


def upload(alpha, world, data: bytes, filename: str = "registre.csv") -> MemberImport:
    record = imports.create_import(alpha, world.alpha, SYSTEM, filename=filename, data=data)
    alpha.flush()
    return record


def check(alpha, world, record: MemberImport, **mapping_overrides: str) -> imports.Plan:
    mapping = {**record.mapping, **mapping_overrides}
    return imports.check_import(
        alpha, world.alpha, SYSTEM, record, mapping=mapping, association_id=node("ASS-A").id
    )


def run(alpha, world, record: MemberImport, **options) -> MemberImport:
    imports.start_import(alpha, world.alpha, SYSTEM, record, enqueue=False)
    alpha.commit()
    return imports.run_import(alpha, world.alpha, SYSTEM, record.public_id, **options)


def members_with(alpha, prefix: str) -> list[Member]:
    return list(
        alpha.scalars(select(Member).where(Member.last_name.startswith(prefix.upper())).order_by(Member.id))
    )


# --- reading and mapping -----------------------------------------------------------------------------------


def test_the_mapping_is_guessed_from_french_or_english_headers():
    french = ["N° membre", "NOM", "Prénom(s)", "Sexe (F/M)", "Né(e) le", "Lieu de naissance", "Téléphone",
              "Tél. 2", "Quartier", "Commune", "Région", "Métier", "Code association", "Lien de parenté",
              "N° adhérent principal", "Observations"]  # fmt: skip
    assert imports.guess_mapping(french) == {
        "external_ref": "N° membre", "last_name": "NOM", "first_names": "Prénom(s)", "sex": "Sexe (F/M)",
        "birth": "Né(e) le", "birth_place": "Lieu de naissance", "phone": "Téléphone", "phone_alt": "Tél. 2",
        "address": "Quartier", "commune": "Commune", "region": "Région", "trade": "Métier",
        "association": "Code association", "relationship": "Lien de parenté",
        "principal_ref": "N° adhérent principal",
    }  # fmt: skip
    english = ["Member number", "Last name", "First names", "Gender", "Date of birth", "Phone number"]
    assert imports.guess_mapping(english) == {
        "external_ref": "Member number", "last_name": "Last name", "first_names": "First names",
        "sex": "Gender", "birth": "Date of birth", "phone": "Phone number",
    }  # fmt: skip


def test_csv_with_semicolons_in_windows_1252_keeps_its_accents():
    data = csv_bytes([["12", "Cissé", "Aïssatou", "F", "1975", "", "tisserand", "", ""]], encoding="cp1252")
    table = imports.read_table(data)
    assert table.kind == "csv" and table.columns == HEADER
    assert table.rows == [(2, ["12", "Cissé", "Aïssatou", "F", "1975", "", "tisserand", "", ""])]
    comma = imports.read_table(
        '\ufeffNom,Prénom,Sexe\n\nSène,"Khady, dite Mame",F\n'.encode()
    )  # BOM, a blank line, a quoted comma
    assert comma.columns == ["Nom", "Prénom", "Sexe"]
    assert comma.rows == [(3, ["Sène", "Khady, dite Mame", "F"])]


def test_xlsx_first_sheet_with_real_date_cells(alpha, world):
    tag = token()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Nom", "Prénom", "Sexe", "Date de naissance", "Téléphone"])
    born = dt.datetime(1979, 11, 2)  # noqa: DTZ001 - spreadsheet cells have no time zone
    sheet.append([f"Ndiaye{tag}", "Ibrahima", "H", born, 771234567])
    sheet.append([])
    sheet.append([f"Fall{tag}", "Mariama", "F", 1968, None])
    book.create_sheet("Notes").append(["ignorée"])
    buffer = io.BytesIO()
    book.save(buffer)
    table = imports.read_table(buffer.getvalue())
    assert table.kind == "xlsx"
    assert table.rows == [
        (2, [f"Ndiaye{tag}", "Ibrahima", "H", "02/11/1979", "771234567"]),
        (4, [f"Fall{tag}", "Mariama", "F", "1968", ""]),
    ]
    record = upload(alpha, world, buffer.getvalue(), "registre.xlsx")
    assert record.stored_path.endswith(".xlsx")
    check(alpha, world, record)
    assert run(alpha, world, record).created_count == 2
    ndiaye = members_with(alpha, f"Ndiaye{tag}")[0]
    assert (ndiaye.birth_date, ndiaye.phone, ndiaye.sex.value) == (dt.date(1979, 11, 2), "+221771234567", "M")
    assert ndiaye.external_ref.startswith("h:")  # no register number: a hash of the identity is the key


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "vide"), (b"  \r\n", "vide"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "Format non reconnu"),
     (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50, ".xls"),
     (b"PK\x03\x04broken", "Format non reconnu"), (b"12;1985;77\n13;1990;78\n", "Pas d'en-tête"),
     (b"Nom;Sexe\n", "que l'en-tête")],
)  # fmt: skip
def test_unreadable_files_say_why(data, message):
    with pytest.raises(FieldError, match=re.escape(message)) as error:
        imports.read_table(data)
    assert error.value.field == "file"


# --- dry run -----------------------------------------------------------------------------------------------


def test_the_dry_run_lists_every_rejected_row_with_its_line_and_reason(alpha, world, enrol):
    tag = token()
    existing_nid = f"1{random.randint(10**11, 10**12 - 1)}"  # noqa: S311
    enrol(last_name=f"Other{tag}", national_id=existing_nid)
    header = [*HEADER, "Code association", "NIN"]
    rows = [
        [f"A{tag}-1", f"Sow{tag}", "Ousmane", "M", "31/02/1990", "", "", "", "", "", ""],  # line 2: bad date
        [f"A{tag}-2", "", "Cheikh", "M", "1970", "", "", "", "", "", ""],  # 3: missing name
        [f"A{tag}-3", f"Sow{tag}", "Abdoulaye", "M", "1970", "12", "", "", "", "", ""],  # 4: bad phone
        [f"A{tag}-4", f"Sow{tag}", "Modou", "M", "1970", "", "", "", "", "ZZZ", ""],  # 5: unknown association
        [f"A{tag}-5", f"Sow{tag}", "Babacar", "M", "1960", "", "", "", "", "", ""],  # 6: good adhérent
        ["", f"Sow{tag}", "Mamadou", "M", "1990", "", "", "enfant", f"A{tag}-5", "", ""],  # 7: child too old
        ["", f"Sow{tag}", "Khady", "F", "2012", "", "", "enfant", f"A{tag}-404", "", ""],  # 8: no adhérent
        [f"A{tag}-5", f"Sow{tag}", "Babacar", "M", "1960", "", "", "", "", "", ""],  # 9: same number again
        [f"A{tag}-6", f"Sow{tag}", "Aminata", "X", "1960", "", "", "", "", "", ""],  # 10: bad sex
        [f"A{tag}-7", f"Sow{tag}", "Awa", "F", "1961", "", "", "", "", "", existing_nid],  # 11: NIN taken
        [f"A{tag}-8", f"Sow{tag}", "Fatou", "F", "1962", "", "plombière", "", "", "ASS-A", ""],  # 12: good
        ["", f"Sow{tag}", "Aïssatou", "F", "2016", "", "", "fille", f"A{tag}-5", "", ""],  # 13: good child
    ]
    record = upload(alpha, world, csv_bytes(rows, header))
    assert record.mapping["association"] == "Code association" and record.mapping["national_id"] == "NIN"
    plan = check(alpha, world, record)
    reasons = {r.line: r.reason for r in plan.rejected}
    assert reasons == {
        2: "Date de naissance : Cette date n'existe pas.",
        3: "Nom : Le nom est obligatoire.",
        4: "Téléphone : Numéro de téléphone invalide (exemple : 77 123 45 67).",
        5: "Association (code) : Code « ZZZ » inconnu dans cette mutuelle.",
        7: "Date de naissance : Un enfant de 21 ans ou plus ne peut pas être ayant droit : il peut adhérer "
        "lui-même.",
        8: f"N° membre de l'adhérent principal : adhérent « A{tag}-404 » introuvable, ni dans le fichier ni "
        "dans la mutuelle.",
        9: "Ligne en double : même N° membre qu'à la ligne 6.",
        10: "Sexe : « X » : F ou M, Femme ou Homme attendu.",
        11: "N° d'identification national (NIN) : Ce numéro d'identification est déjà celui d'un autre "
        "membre.",
    }
    assert (record.status, record.created_count, record.skipped_count, record.rejected_count) == (
        ImportStatus.checked, 3, 0, 9,
    )  # fmt: skip
    assert members_with(alpha, f"Sow{tag}") == []  # nothing written by the dry run
    preview = imports.report_preview(world.alpha, record)
    assert preview[0] == ("2", "Date de naissance : Cette date n'existe pas.") and len(preview) == 9
    with imports.path_of(world.alpha, record.report_path).open(encoding="utf-8-sig", newline="") as stream:
        report = list(csv.reader(stream, delimiter=";"))
    assert report[0] == ["ligne", *header, "motif"]
    assert [int(r[0]) for r in report[1:]] == sorted(reasons)
    assert report[1][1:3] == [f"A{tag}-1", f"Sow{tag}"] and report[1][-1] == reasons[2]


def test_mapping_errors_name_the_field(alpha, world):
    record = upload(alpha, world, csv_bytes([["1", "Ba", "Awa", "F", "1980", "", "", "", ""]]))
    with pytest.raises(FieldError) as error:
        check(alpha, world, record, birth="")
    assert error.value.field == "col_birth"
    with pytest.raises(FieldError, match="déjà choisie pour « Nom »") as error:
        check(alpha, world, record, first_names="Nom")
    assert error.value.field == "col_first_names"
    with pytest.raises(FieldError) as error:
        check(alpha, world, record, external_ref="")
    assert error.value.field == "col_external_ref"  # ayants droit point to a register number


# --- the job -----------------------------------------------------------------------------------------------


def test_import_creates_pending_members_with_numbers_and_households(alpha, world):
    tag, other = token(), token()
    rows = household(f"B{tag}-1", tag) + household(f"B{tag}-2", other)
    record = upload(alpha, world, csv_bytes(rows))
    check(alpha, world, record)
    done = run(alpha, world, record)
    assert (done.status, done.created_count, done.skipped_count, done.rejected_count) == (
        ImportStatus.done, 6, 0, 0,
    )  # fmt: skip
    assert done.processed_rows == done.total_rows == 6
    people = members_with(alpha, f"Diop{tag}")
    principal = next(m for m in people if m.principal_id is None)
    assert principal.external_ref == f"B{tag}-1" and principal.trade == "couturier"
    assert [(m.relation, m.principal_id) for m in people if m is not principal] == [
        (Relationship.spouse, principal.id), (Relationship.child, principal.id),
    ]  # fmt: skip
    parsed = [numbers.parse(m.number) for m in people]
    assert [p.rank for p in parsed] == [0, 1, 2] and len({p.household for p in parsed}) == 1
    assert all(m.status is MemberStatus.pending for m in people)
    assert all(m.name_trigrams and m.name_key.startswith("diop") for m in people)
    assert people[2].birth_date == dt.date(2015, 6, 1) and people[1].birth_date is None
    history = alpha.scalars(
        select(MemberStatusEvent).where(MemberStatusEvent.member_id == principal.id)
    ).all()
    assert [(h.from_status, h.to_status) for h in history] == [(None, "pending")]
    events = alpha.scalars(
        select(TenantAuditEvent.action)
        .where(TenantAuditEvent.target_id == record.public_id)
        .order_by(TenantAuditEvent.seq)
    ).all()
    assert events == [
        "members.import_uploaded", "members.import_checked", "members.import_started", "members.imported",
        "members.import_finished",
    ]  # fmt: skip
    batch = alpha.scalar(
        select(TenantAuditEvent).where(
            TenantAuditEvent.target_id == record.public_id, TenantAuditEvent.action == "members.imported"
        )
    )
    assert set(batch.details["after"]["numbers"]) >= {m.number for m in people}


def test_the_same_file_twice_creates_nothing(alpha, world):
    tag = token()
    data = csv_bytes(household(f"C{tag}", tag) + [["", f"Ka{tag}", "Seynabou", "F", "1990", "", "", "", ""]])
    first = upload(alpha, world, data)
    check(alpha, world, first)
    assert run(alpha, world, first).created_count == 4
    second = upload(alpha, world, data)
    assert imports.earlier_imports_of_same_file(alpha, second)[0].id == first.id
    check(alpha, world, second)
    assert (second.created_count, second.skipped_count) == (0, 4)  # the dry run says so already
    again = run(alpha, world, second)
    assert (again.created_count, again.skipped_count, again.rejected_count) == (0, 4, 0)
    assert len(members_with(alpha, f"Diop{tag}")) == 3 and len(members_with(alpha, f"Ka{tag}")) == 1


def test_an_interrupted_job_keeps_its_batches_and_resumes_without_duplicates(alpha, world, monkeypatch):
    tag = token()
    rows = [[f"D{tag}-{i}", f"Gueye{tag}", f"Modou{i}", "M", f"{1960 + i}", "", "", "", ""] for i in range(5)]
    rows += household(f"D{tag}-0", tag)[1:]  # two ayants droit of the first adhérent, processed last
    record = upload(alpha, world, csv_bytes(rows))
    check(alpha, world, record)
    real_insert, calls = imports._insert_batch, []

    def crash_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("power cut")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(imports, "_insert_batch", crash_on_second_batch)
    with pytest.raises(RuntimeError, match="power cut"):
        run(alpha, world, record, batch_size=2)
    alpha.expire_all()
    stopped = alpha.get(MemberImport, record.id)
    assert (stopped.status, stopped.processed_rows, stopped.created_count) == (ImportStatus.failed, 2, 2)
    assert "Les lots déjà enregistrés sont gardés" in stopped.error
    assert len(members_with(alpha, f"Gueye{tag}")) == 2  # the first batch stayed

    monkeypatch.setattr(imports, "_insert_batch", real_insert)
    resumed = run(alpha, world, record, batch_size=2)
    assert (resumed.status, resumed.processed_rows, resumed.created_count, resumed.skipped_count) == (
        ImportStatus.done, 7, 7, 0,
    )  # fmt: skip
    refs = [m.external_ref for m in members_with(alpha, f"Gueye{tag}")]
    assert len(refs) == len(set(refs)) == 5
    dependants = members_with(alpha, f"Diop{tag}")
    assert [numbers.parse(m.number).rank for m in dependants] == [1, 2]
    actions = alpha.scalars(
        select(TenantAuditEvent.action).where(TenantAuditEvent.target_id == record.public_id)
    ).all()
    assert {"members.import_failed", "members.import_resumed", "members.import_finished"} <= set(actions)


def test_rows_written_meanwhile_by_another_run_are_skipped_at_write_time(alpha, world):
    tag = token()
    record = upload(alpha, world, csv_bytes(household(f"H{tag}", tag)))
    check(alpha, world, record)
    imports.start_import(alpha, world.alpha, SYSTEM, record, enqueue=False)
    alpha.commit()
    table = imports.load_table(world.alpha, record)
    plan = imports.plan_import(alpha, world.alpha, SYSTEM, record, table)
    rules = imports.member_rules(alpha, world.alpha)
    today = dt.date.today()  # noqa: DTZ011 - a plain calendar day for the test
    assert len(imports._insert_batch(alpha, SYSTEM, plan.rows, rules, today)[0]) == 3  # a parallel runner
    assert imports._insert_batch(alpha, SYSTEM, plan.rows, rules, today) == ([], 3)  # the same plan again
    alpha.commit()
    finished = imports.run_import(alpha, world.alpha, SYSTEM, record.public_id)
    assert (finished.status, finished.created_count, finished.skipped_count) == (ImportStatus.done, 0, 3)


def test_ayants_droit_join_an_adherent_imported_before(alpha, world):
    tag = token()
    first = upload(alpha, world, csv_bytes(household(f"E{tag}", tag)[:1]))
    check(alpha, world, first)
    run(alpha, world, first)
    later = upload(alpha, world, csv_bytes(household(f"E{tag}", tag)))  # the register, completed
    check(alpha, world, later)
    assert (later.created_count, later.skipped_count) == (2, 1)
    run(alpha, world, later)
    people = members_with(alpha, f"Diop{tag}")
    assert [numbers.parse(m.number).rank for m in people] == [0, 1, 2]
    assert {m.principal_id for m in people[1:]} == {people[0].id}


def test_the_task_runs_in_a_real_worker(app, world):
    tag = token()
    with app.app_context(), tenant_scope(db.session, world.alpha):
        record = upload(db.session, world, csv_bytes(household(f"W{tag}", tag)))
        check(db.session, world, record)
        imports.start_import(db.session, world.alpha, SYSTEM, record)
        public_id = record.public_id
        db.session.commit()  # the job is sent only now, with alpha in its headers

    def status():
        with app.app_context(), tenant_scope(db.session, world.alpha):
            found = db.session.scalar(select(MemberImport).where(MemberImport.public_id == public_id))
            return found.status, found.created_count

    with start_worker(app.extensions["celery"], pool="solo", perform_ping_check=False, shutdown_timeout=10):
        deadline = time.monotonic() + 30
        while status()[0] is not ImportStatus.done:
            assert time.monotonic() < deadline, f"the worker did not finish the import: {status()}"
            time.sleep(0.2)
    assert status() == (ImportStatus.done, 3)


# --- screens and scope -------------------------------------------------------------------------------------


def test_screens_upload_map_check_import_and_download(app, world, login):
    client = login("manager.a@test.sn")
    tag = token()
    rows = household(f"F{tag}", tag) + [["", f"Thiam{tag}", "Ibrahima", "M", "45/01/1980", "", "", "", ""]]
    empty = client.post("/alpha/imports/nouveau", data={"file": (io.BytesIO(b""), "vide.csv")})
    assert "Le fichier est vide." in empty.get_data(as_text=True)
    sent = client.post("/alpha/imports/nouveau", data={"file": (io.BytesIO(csv_bytes(rows)), "registre.csv")})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/colonnes")
    page = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert '<option selected value="Date de naissance">' in page
    form = {f"col_{code}": column for code, column in imports.guess_mapping(HEADER).items()}
    with app.app_context():
        form["association"] = str(node("ASS-A").id)
    checked = client.post(sent.headers["Location"], data=form)
    assert checked.status_code == 302
    detail = client.get(checked.headers["Location"]).get_data(as_text=True)
    assert "Résultat de l'essai à blanc" in detail and "Importer 3 membres" in detail
    assert "ligne 5 — Date de naissance : Cette date n&#39;existe pas." in detail
    report = client.get(checked.headers["Location"] + "/rapport.csv")
    assert report.mimetype == "text/csv" and "attachment" in report.headers["Content-Disposition"]
    lines = report.get_data().decode("utf-8-sig").splitlines()
    assert lines[0].startswith("ligne;N° membre;Nom") and lines[1].startswith(f"5;;Thiam{tag};")
    assert lines[1].endswith(";Date de naissance : Cette date n'existe pas.")

    started = client.post(checked.headers["Location"] + "/lancer")
    assert started.status_code == 302
    public_id = checked.headers["Location"].rsplit("/", 1)[-1]
    waiting = client.get(f"/alpha/imports/{public_id}/progression").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in waiting and "<progress" in waiting and "Rafraîchir" in waiting
    member_tasks.run_member_import.apply((public_id, None), headers={TENANT_HEADER: "alpha"}, throw=True)
    finished = client.get(f"/alpha/imports/{public_id}/progression").get_data(as_text=True)
    assert "hx-trigger" not in finished and "Import terminé" in finished
    assert client.post(checked.headers["Location"] + "/lancer").status_code == 409  # not twice
    listing = client.get("/alpha/imports/").get_data(as_text=True)
    assert "registre.csv" in listing and "3 créés, 0 déjà présents, 1 rejetés" in listing


def test_staff_of_another_federation_cannot_see_nor_run_an_import(app, world, login):
    with app.app_context(), tenant_scope(db.session, world.alpha):
        tag = token()
        record = upload(db.session, world, csv_bytes(household(f"G{tag}", tag)))
        check(db.session, world, record)
        public_id = record.public_id
        db.session.commit()
    client = login("manager.b@test.sn")
    for path in ("/alpha/imports/", f"/alpha/imports/{public_id}", f"/alpha/imports/{public_id}/rapport.csv",
                 f"/alpha/imports/{public_id}/progression", "/alpha/imports/nouveau"):  # fmt: skip
        assert client.get(path).status_code in (403, 404), path
    assert client.post(f"/alpha/imports/{public_id}/lancer").status_code in (403, 404)
    with app.app_context(), tenant_scope(db.session, world.alpha):
        still = db.session.scalar(select(MemberImport).where(MemberImport.public_id == public_id))
        assert still.status is ImportStatus.checked
        assert db.session.scalar(select(func.count()).where(Member.last_name == f"DIOP{tag}".upper())) == 0
