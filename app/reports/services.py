"""Quarterly reports per node: the indicators of the quarter (with the previous quarter beside them), the
monthly trend of the headline figures and the comparison of the node's children — read from the snapshots,
written as PDF (fpdf2, core fonts) and XLSX (openpyxl) under ``MBOLO_DATA_DIR/media/_supervision/reports``
(outside every tenant's folder: a node's report spans mutuals). Requested on demand (alerts.manage) or by
Celery beat at the start of each quarter for every ministry, fédération and ligue node.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, scoped_session

from app import clock
from app.audit.services import record_event
from app.database import utcnow
from app.errors import FieldError, NotFound
from app.reports.models import Report
from app.security.actor import Actor
from hierarchy.models import Node, NodeKind
from hierarchy.supervision import catalogue as cat
from hierarchy.supervision.compute import add_months, month_range
from hierarchy.supervision.dashboard import monthly, targets, values_of
from hierarchy.supervision.dashboard import show as shown

AnySession = Session | scoped_session[Session]
READ, MANAGE = "reports.read", "alerts.manage"
FOLDER = Path("_supervision") / "reports"  # "_" never starts a tenant slug: no clash with tenants' folders
STATUS_LABELS = {
    "queued": _l("en attente"),
    "running": _l("en cours"),
    "done": _l("prêt"),
    "failed": _l("échec"),
}


def quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def previous_quarter(day: dt.date) -> tuple[int, int]:
    return quarter_of(add_months(day.replace(day=1), -3))


def quarter_months(year: int, quarter: int) -> list[dt.date]:
    first = dt.date(year, 3 * (quarter - 1) + 1, 1)
    return month_range(first, add_months(first, 2))


# --- archive ---------------------------------------------------------------------------------------------


def request_report(
    session: AnySession, actor: Actor, node: Node, *, year: int, quarter: int, automatic: bool = False
) -> Report:
    """Queue a report of ``node`` for a quarter (the job starts after the commit)."""
    from app.reports.tasks import generate_report_task
    from app.worker import enqueue_after_commit

    actor.require(MANAGE, node.path)
    if quarter not in (1, 2, 3, 4):
        raise FieldError("quarter", _l("Choisissez un trimestre de 1 à 4."))
    if not 2000 <= year <= clock.today().year:
        raise FieldError("year", _l("Année invalide."))
    if quarter_months(year, quarter)[0] > clock.today():
        raise FieldError("quarter", _l("Ce trimestre n'a pas encore commencé."))
    report = Report(
        node_id=node.id,
        year=year,
        quarter=quarter,
        automatic=automatic,
        requested_by_id=actor.account_id,
        requested_by_label=actor.label,
    )
    session.add(report)
    session.flush()
    record_event(
        session,
        actor,
        "reports.requested",
        target_type="report",
        target_id=report.public_id,
        platform=True,
        after={"node": node.code, "year": year, "quarter": quarter},
    )
    enqueue_after_commit(session, generate_report_task, report.public_id)
    return report


def list_reports(session: AnySession, actor: Actor, node: Node) -> list[Report]:
    actor.require(READ, node.path)
    return list(
        session.scalars(
            select(Report)
            .where(Report.node_id == node.id)
            .order_by(Report.year.desc(), Report.quarter.desc(), Report.created_at.desc())
            .limit(40)
        )
    )


def get_report(session: AnySession, actor: Actor, public_id: str) -> Report:
    report = session.scalar(select(Report).where(Report.public_id == public_id))
    if report is None or not actor.can(READ, report.node.path):
        raise NotFound(_l("Rapport introuvable."))
    return report


def reports_root() -> Path:
    from app.media import media_root

    return media_root()


def save_file(data: bytes, suffix: str) -> str:
    relative = FOLDER / f"{secrets.token_hex(16)}.{suffix}"
    target = reports_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    temporary.write_bytes(data)
    os.replace(temporary, target)
    return relative.as_posix()


def file_path(relative: str) -> Path:
    root = (reports_root() / FOLDER).resolve()
    target = (reports_root() / relative).resolve()
    if root not in target.parents:
        raise NotFound(_l("Fichier introuvable."))
    return target


# --- content ---------------------------------------------------------------------------------------------


@dataclass
class ReportData:
    node: Node
    year: int
    quarter: int
    months: list[dt.date]
    values: dict[str, Decimal | int | None]
    previous: dict[str, Decimal | int | None]
    trend: list[tuple[dt.date, dict[str, Decimal | int | None]]]
    children: list[tuple[Node, dict[str, Decimal | int | None]]]


def collect(session: AnySession, node: Node, year: int, quarter: int) -> ReportData:
    months = quarter_months(year, quarter)
    before = quarter_months(*previous_quarter(months[0]))
    children = list(session.scalars(select(Node).where(Node.parent_id == node.id).order_by(Node.name)))
    ids = [node.id] + [c.id for c in children]
    data = monthly(session, ids, before + months)
    target_of = targets(session, ids, year)
    own = data.get(node.id, {})
    return ReportData(
        node,
        year,
        quarter,
        months,
        values_of(cat.aggregate(own, months), target_of.get(node.id)),
        values_of(cat.aggregate(own, before), target_of.get(node.id)),
        [(m, values_of(cat.aggregate(own, [m]), target_of.get(node.id))) for m in months],
        [(c, values_of(cat.aggregate(data.get(c.id, {}), months), target_of.get(c.id))) for c in children],
    )


def render_pdf(data: ReportData) -> bytes:
    from fpdf import FPDF

    from app.members.cards import latin1

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_creator("Mbolo")
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(
        0,
        8,
        latin1(_("Rapport trimestriel T%(q)d %(y)d", q=data.quarter, y=data.year)),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(
        0,
        6,
        latin1(f"{data.node.kind.label} : {data.node.name} ({data.node.code})"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_font("Helvetica", "", 8)
    pdf.cell(
        0,
        5,
        latin1(
            _(
                "Produit le %(day)s à partir des instantanés consolidés.",
                day=clock.today().strftime("%d/%m/%Y"),
            )
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    month_heads = [m.strftime("%m/%Y") for m in data.months]
    for key, label in cat.SECTIONS.items():
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 7, latin1(str(label)), new_x="LMARGIN", new_y="NEXT")
        widths = [95, 34, 34] + [34] * len(month_heads)
        _row(
            pdf, widths, [_("Indicateur"), _("Trimestre"), _("Trimestre précédent"), *month_heads], bold=True
        )
        for indicator in (i for i in cat.INDICATORS.values() if i.section == key):
            _row(
                pdf,
                widths,
                [
                    str(indicator.label),
                    shown(indicator, data.values[indicator.code]),
                    shown(indicator, data.previous[indicator.code]),
                    *[shown(indicator, v[indicator.code]) for _m, v in data.trend],
                ],
            )
    if data.children:
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(
            0,
            7,
            latin1(_("Comparaison : %(kind)s", kind=data.children[0][0].kind.label)),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        widths = [62] + [27] * len(cat.COMPARISON)
        _row(
            pdf,
            widths,
            [_("Nœud"), *[str(cat.INDICATORS[c].label) for c in cat.COMPARISON]],
            bold=True,
            size=6.5,
        )
        for child, values in data.children:
            _row(
                pdf,
                widths,
                [child.name, *[shown(cat.INDICATORS[c], values[c]) for c in cat.COMPARISON]],
                size=7,
            )
    return bytes(pdf.output())


def _row(pdf: object, widths: list[float], cells: list[str], bold: bool = False, size: float = 8) -> None:
    from app.members.cards import latin1

    pdf.set_font("Helvetica", "B" if bold else "", size)  # type: ignore[attr-defined]
    for width, value in zip(widths, cells, strict=False):
        text_value = latin1(value)
        while text_value and pdf.get_string_width(text_value) > width - 1:  # type: ignore[attr-defined]
            text_value = text_value[:-1]
        pdf.cell(width, 5, text_value, border=1)  # type: ignore[attr-defined]
    pdf.ln(5)  # type: ignore[attr-defined]


def _cell(value: Decimal | int | None) -> float | int | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal) else value


def render_xlsx(data: ReportData) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = _("Indicateurs")[:31]
    sheet.append(
        [_("Rapport trimestriel T%(q)d %(y)d", q=data.quarter, y=data.year), data.node.name, data.node.code]
    )
    sheet.append([])
    head = [
        _("Code"),
        _("Indicateur"),
        _("Unité"),
        _("Trimestre"),
        _("Trimestre précédent"),
        *[m.strftime("%m/%Y") for m in data.months],
        _("Formule"),
    ]
    sheet.append(head)
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for indicator in cat.INDICATORS.values():
        sheet.append(
            [
                indicator.code,
                str(indicator.label),
                indicator.unit,
                _cell(data.values[indicator.code]),
                _cell(data.previous[indicator.code]),
                *[_cell(v[indicator.code]) for _m, v in data.trend],
                indicator.formula,
            ]
        )
    sheet.column_dimensions["B"].width = 45
    if data.children:
        children = book.create_sheet(_("Comparaison")[:31])
        children.append([_("Code"), _("Nœud"), *[str(cat.INDICATORS[c].label) for c in cat.INDICATORS]])
        for cell in children[1]:
            cell.font = Font(bold=True)
        for child, values in data.children:
            children.append([child.code, child.name, *[_cell(values[c]) for c in cat.INDICATORS]])
        children.column_dimensions["B"].width = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def generate(session: AnySession, public_id: str, progress: Callable[[int], None] | None = None) -> Report:
    """Build both files of a queued report, updating its progress (``progress`` commits it when given)."""
    report = session.scalar(select(Report).where(Report.public_id == public_id))
    if report is None:
        raise NotFound(_l("Rapport introuvable."))

    def step(percent: int) -> None:
        report.progress = percent
        session.flush()
        if progress is not None:
            progress(percent)

    report.status = "running"
    step(10)
    data = collect(session, report.node, report.year, report.quarter)
    step(40)
    report.pdf_path = save_file(render_pdf(data), "pdf")
    step(70)
    report.xlsx_path = save_file(render_xlsx(data), "xlsx")
    report.status, report.finished_at = "done", utcnow()
    step(100)
    record_event(
        session,
        Actor.system("reports.generate"),
        "reports.generated",
        target_type="report",
        target_id=report.public_id,
        platform=True,
        after={"node": report.node.code, "quarter": report.label},
    )
    return report


def mark_failed(session: AnySession, public_id: str, error: BaseException) -> Report | None:
    """A report whose job failed: its status and error, audited like a success (the caller commits)."""
    report = session.scalar(select(Report).where(Report.public_id == public_id))
    if report is None:
        return None
    report.status, report.error = "failed", str(error)[:2000]
    record_event(
        session,
        Actor.system("reports.generate"),
        "reports.failed",
        target_type="report",
        target_id=public_id,
        platform=True,
        after={"node": report.node.code, "quarter": report.label, "error": report.error[:200]},
    )
    return report


def schedule_quarterly(session: AnySession, today: dt.date | None = None) -> list[Report]:
    """The reports of the quarter just ended for every ministry, fédération and ligue (once each)."""
    year, quarter = previous_quarter(today or clock.today())
    actor = Actor.system("reports.quarterly")
    nodes = session.scalars(
        select(Node).where(Node.kind.in_([NodeKind.ministry, NodeKind.federation, NodeKind.league]))
    ).all()
    made = []
    for node in nodes:
        exists = session.scalar(
            select(Report.id).where(
                Report.node_id == node.id,
                Report.year == year,
                Report.quarter == quarter,
                Report.automatic.is_(True),
            )
        )
        if exists is None:
            made.append(request_report(session, actor, node, year=year, quarter=quarter, automatic=True))
    return made
