"""Register imports of a mutual (``/<tenant>/imports``): upload, column mapping with a dry run, the job's
progress (htmx polling, with a plain link without JavaScript) and the report of rejected rows."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from werkzeug.wrappers import Response as BaseResponse
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from app.errors import DomainError
from app.extensions import db
from app.members import imports
from app.members.models import ImportStatus, MemberImport
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("member_imports", __name__, template_folder="templates")
install_resolution(bp)


class UploadForm(FlaskForm):
    file = FileField(_l("Registre (CSV ou Excel .xlsx, 10 Mo au plus)"))


class ActionForm(FlaskForm):
    """Launch or resume: a button with its CSRF token."""


def _mapping_form(record: MemberImport) -> FlaskForm:
    """One select per target field (the file's columns) and the default association."""
    columns = [SelectChoice("", str(_l("— non utilisée —")))] + [SelectChoice(c, c) for c in record.columns]
    associations = imports.associations_for(db.session, current_tenant(), current_actor())

    class MappingForm(FlaskForm):
        association = SelectField(
            _l("Association par défaut"),
            choices=[SelectChoice("", str(_l("— choisir —")))]
            + [SelectChoice(str(n.id), f"{n.name} ({n.code})") for n in associations],
            default=str(record.association_id or ""),
            description=_l("Pour les lignes sans code d'association."),
        )

    for target in imports.FIELDS:
        select = SelectField(
            target.label,
            choices=columns,
            default=record.mapping.get(target.code, ""),
            description=target.help,
        )
        setattr(MappingForm, f"col_{target.code}", select)
    return MappingForm()


@bp.context_processor
def labels() -> dict[str, Any]:
    return {"import_status_labels": imports.STATUS_LABELS, "import_fields": imports.FIELDS}


@bp.get("/")
@requires("members.enrol")
def index() -> str:
    """This mutual's imports: status, counts, who and when."""
    found = imports.list_imports(db.session, current_tenant(), current_actor())
    return render_template("members/import_list.html", imports=found, title=_l("Imports de registres"))


@bp.route("/nouveau", methods=["GET", "POST"])
@requires("members.enrol")
def upload() -> str | BaseResponse:
    """Upload a register; the mapping is guessed from its header."""
    imports.require_access(db.session, current_tenant(), current_actor())
    form = UploadForm()
    if form.validate_on_submit():
        try:
            upload = form.file.data
            record = imports.create_import(
                db.session, current_tenant(), current_actor(),
                filename=upload.filename if upload else "", data=upload.read() if upload else b"",
            )  # fmt: skip
            return redirect(url_for(".mapping", public_id=record.public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template("members/import_upload.html", form=form, title=_l("Importer un registre"))


@bp.route("/<public_id>/colonnes", methods=["GET", "POST"])
@requires("members.enrol")
def mapping(public_id: str) -> str | BaseResponse:
    """Choose a column for each field, then the dry run (nothing is written to the register)."""
    record = imports.get_import(db.session, current_tenant(), current_actor(), public_id)
    if record.status not in imports.EDITABLE:
        return redirect(url_for(".detail", public_id=public_id))
    form = _mapping_form(record)
    if form.validate_on_submit():
        try:
            imports.check_import(
                db.session, current_tenant(), current_actor(), record,
                mapping={t.code: form[f"col_{t.code}"].data for t in imports.FIELDS},
                association_id=int(form.association.data) if form.association.data else None,
            )  # fmt: skip
            return redirect(url_for(".detail", public_id=public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template(
        "members/import_mapping.html", record=record, form=form, title=_l("Colonnes du registre"),
        same_file=imports.earlier_imports_of_same_file(db.session, record),
    )  # fmt: skip


@bp.get("/<public_id>")
@requires("members.enrol")
def detail(public_id: str) -> str | BaseResponse:
    """Dry-run result before the import; progress while it runs; counts and report afterwards."""
    record = imports.get_import(db.session, current_tenant(), current_actor(), public_id)
    if record.status in (ImportStatus.uploaded, ImportStatus.mapped):
        return redirect(url_for(".mapping", public_id=public_id))
    return render_template(
        "members/import_detail.html", record=record, form=ActionForm(), title=record.filename,
        rejected=imports.report_preview(current_tenant(), record),
    )  # fmt: skip


@bp.get("/<public_id>/progression")
@requires("members.enrol")
def progress(public_id: str) -> str:
    """The progress fragment htmx polls every 2 s (it stops polling once the job has ended)."""
    record = imports.get_import(db.session, current_tenant(), current_actor(), public_id)
    return render_template("members/import_progress.html", record=record, form=ActionForm())


@bp.post("/<public_id>/lancer")
@requires("members.enrol")
def start(public_id: str) -> str | BaseResponse:
    """Queue the job after the dry run, or resume an interrupted one where it stopped."""
    record = imports.get_import(db.session, current_tenant(), current_actor(), public_id, for_update=True)
    form = ActionForm()
    if form.validate_on_submit():
        try:
            imports.start_import(db.session, current_tenant(), current_actor(), record)
            return redirect(url_for(".detail", public_id=public_id))
        except DomainError as error:
            show_error(form, error)
    return render_template(
        "members/import_detail.html", record=record, form=form, title=record.filename,
        rejected=imports.report_preview(current_tenant(), record),
    ), 409  # fmt: skip


@bp.get("/<public_id>/rapport.csv")
@requires("members.enrol")
def report(public_id: str) -> Response:
    """Every rejected row as it was in the file, with its line number and the reason."""
    record = imports.get_import(db.session, current_tenant(), current_actor(), public_id)
    data = imports.open_report(db.session, current_tenant(), current_actor(), record)
    stem = record.filename.rsplit(".", 1)[0] or "registre"
    return Response(
        data,
        mimetype="text/csv",
        headers={"Content-Disposition": _attachment(f"rejets-{stem}.csv")},
    )


def _attachment(filename: str) -> str:
    """An ASCII fallback plus the UTF-8 name (RFC 6266), so accents survive and no header breaks."""
    from urllib.parse import quote

    ascii_name = "".join(c if c.isascii() and c not in '"\\;' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
