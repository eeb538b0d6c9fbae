"""A beneficiary's rights (``/<tenant>/droits/<member>``): covered or not on a day and why, per product, the
remaining ceilings and the history of changes. A full page, or only the panel for htmx (the member page
loads it in place); ``?jour=`` asks about another day."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional

from app import clock
from app.coverage import rights
from app.errors import FieldError
from app.extensions import db
from app.formatting import money
from app.members import services
from app.members.rules import RELATIONSHIP_LABELS, STATUS_LABELS
from app.security.permissions import current_actor, requires
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("rights", __name__, template_folder="templates")
install_resolution(bp)


class DayForm(FlaskForm):
    class Meta:
        csrf = False  # a GET that changes nothing

    jour = StringField(
        _l("Droits au"),
        description=_l("AAAA-MM-JJ ou JJ/MM/AAAA ; aujourd'hui si vide."),
        validators=[Optional(), Length(max=10)],
        render_kw={"type": "date"},
    )


@bp.context_processor
def helpers() -> dict[str, Any]:
    return {
        "long_date": rights.long_date,
        "money": money,
        "status_labels": STATUS_LABELS,
        "relationship_labels": RELATIONSHIP_LABELS,
        "code_labels": rights.CODE_LABELS,
    }


@bp.get("/<member_public_id>")
@requires("members.read")
def panel(member_public_id: str) -> tuple[str, int]:
    """Rights on the day asked (today by default); a wrong date is said next to the field, today's shown."""
    member = services.get_member(db.session, current_tenant(), current_actor(), member_public_id)
    form = DayForm(request.args)
    htmx = request.headers.get("HX-Request") == "true"
    day, status = clock.today(), 200
    if form.jour.data:
        try:
            day = rights.parse_day(form.jour.data, "jour")
        except FieldError as error:
            form.jour.errors = [error.message]
            status = 200 if htmx else 422  # htmx leaves error answers unswapped: the message must show
    answer = rights.rights_on(db.session, current_tenant(), member, day)
    template = "coverage/rights_panel.html" if htmx else "coverage/rights_page.html"
    return render_template(
        template, member=member, rights=answer, form=form, is_today=day == clock.today(),
        history=rights.rights_history(db.session, member),
        title=_l("Droits de %(name)s", name=member.full_name),
    ), status  # fmt: skip
