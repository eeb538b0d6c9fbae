"""The report archive of a node, the request form, a report's progress and its downloads."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from werkzeug.wrappers import Response

from app import clock
from app.errors import DomainError, NotFound
from app.extensions import db
from app.reports import (
    services,
    tasks,  # noqa: F401 - registers the Celery jobs and the quarterly schedule
)
from app.reports.forms import ReportForm
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from hierarchy import services as hierarchy

bp = Blueprint("reports", __name__, template_folder="templates")


@bp.route("/noeuds/<public_id>", methods=["GET", "POST"])
@requires("reports.read")
def node_reports(public_id: str) -> str | Response:
    """The node's reports (newest first) and, for alerts.manage, the form to produce one."""
    node = hierarchy.get_node(db.session, public_id)
    actor = current_actor()
    reports = services.list_reports(db.session, actor, node)
    can_request = actor.can(services.MANAGE, node.path)
    year, quarter = services.previous_quarter(clock.today())
    form = ReportForm(data={"year": year, "quarter": str(quarter)})
    if request.method == "POST" and not can_request:
        abort(403)
    if request.method == "POST" and form.validate_on_submit():
        try:
            report = services.request_report(
                db.session, actor, node, year=form.year.data, quarter=int(form.quarter.data)
            )
            return redirect(url_for("reports.detail", public_id=report.public_id))
        except DomainError as problem:
            show_error(form, problem)
    return render_template(
        "reports/node.html",
        node=node,
        reports=reports,
        form=form,
        can_request=can_request,
        labels=services.STATUS_LABELS,
    )


@bp.get("/<public_id>")
@requires("reports.read")
def detail(public_id: str) -> str:
    """A report's state; while it is being built the page refreshes its progress (htmx, or a meta refresh)."""
    report = services.get_report(db.session, current_actor(), public_id)
    template = "reports/_progress.html" if request.headers.get("HX-Request") else "reports/detail.html"
    return render_template(template, report=report, labels=services.STATUS_LABELS)


@bp.get("/<public_id>/<kind>")
@requires("reports.read")
def download(public_id: str, kind: str) -> Response:
    report = services.get_report(db.session, current_actor(), public_id)
    relative = {"pdf": report.pdf_path, "xlsx": report.xlsx_path}.get(kind)
    if relative is None:
        raise NotFound("")
    name = f"rapport-{report.node.code}-{report.year}-T{report.quarter}.{kind}"
    return send_file(services.file_path(relative), as_attachment=True, download_name=name)
