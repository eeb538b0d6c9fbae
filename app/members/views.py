"""The member register of a mutual (``/<tenant>/adherents``): search, enrolment in steps with server-side
drafts, the member page (household, history, consent, status)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from app import clock, dates
from app.database import local_today
from app.errors import DomainError, FieldError
from app.extensions import db
from app.members import services
from app.members.forms import (
    ConfirmForm,
    ConsentForm,
    ContactForm,
    DependantForm,
    IdentityForm,
    ReasonForm,
    RulesForm,
    SearchForm,
    StatusForm,
)
from app.members.models import EnrolmentDraft, Member
from app.members.rules import RELATIONSHIP_LABELS, STATUS_LABELS, member_rules, trades_for, update_rules
from app.security.permissions import current_actor, requires
from app.web.forms import show_error
from tenants.resolution import current_tenant, install_resolution

bp = Blueprint("members", __name__, template_folder="templates")
install_resolution(bp)

_DEPENDANT_FIELDS = ("last_name", "first_names", "sex", "birth")
STEPS = ("identity", "contact", "household", "consent", "review")
STEP_LABELS = {
    "identity": _l("Identité"),
    "contact": _l("Contacts et métier"),
    "household": _l("Ayants droit"),
    "consent": _l("Consentement"),
    "review": _l("Vérification"),
}
_STEP_FORMS = {"identity": IdentityForm, "contact": ContactForm, "consent": ConsentForm}
_FIELD_STEP = {
    name: step for step, form in _STEP_FORMS.items() for name in form.__dict__ if not name.startswith("_")
}


@bp.context_processor
def labels() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "relationship_labels": RELATIONSHIP_LABELS,
        "step_labels": STEP_LABELS,
    }


def _association_choices(permission: str) -> list[tuple[str, str]]:
    nodes = services.associations_in_reach(db.session, current_actor(), current_tenant(), permission)
    return [SelectChoice(str(n.id), f"{n.name} ({n.code})") for n in nodes]


def _association_names() -> dict[int, str]:
    nodes = services.associations_in_reach(db.session, current_actor(), current_tenant(), "members.read")
    return {n.id: n.name for n in nodes}


# --- register ----------------------------------------------------------------------------------------------


@bp.get("/")
@requires("members.read")
def index() -> str:
    """Search by number, phone or name (paginated), and the agent's unfinished enrolments."""
    form = SearchForm(request.args)
    form.status.choices = [SelectChoice("", str(_l("Tous")))] + [
        SelectChoice(k, str(v)) for k, v in STATUS_LABELS.items()
    ]
    form.association.choices = [SelectChoice("", str(_l("Toutes")))] + _association_choices("members.read")
    page = services.search_members(
        db.session, current_tenant(), current_actor(), form.q.data or "",
        status=form.status.data or None,
        association_id=int(form.association.data) if (form.association.data or "").isdigit() else None,
        page=request.args.get("page", 1, type=int),
    )  # fmt: skip
    return render_template(
        "members/index.html",
        form=form,
        page=page,
        associations=_association_names(),
        drafts=services.open_drafts(db.session, current_actor())
        if current_actor().can("members.enrol")
        else [],
        can_enrol=current_actor().can("members.enrol"),
        can_manage=current_actor().can("members.manage"),
        title=_l("Adhérents"),
    )


@bp.route("/regles", methods=["GET", "POST"])
@requires("members.manage")
def rules() -> str | Response | tuple[str, int]:
    """The mutual's enrolment rules (child age limit, household size, card validity, consent text)."""
    current = member_rules(db.session, current_tenant())
    form = RulesForm(data={k: str(v) for k, v in current.__dict__.items()})
    if form.validate_on_submit():
        try:
            update_rules(
                db.session, current_tenant(), current_actor(),
                child_age_limit=form.child_age_limit.data, max_household_size=form.max_household_size.data,
                card_validity_months=form.card_validity_months.data,
                consent_version=form.consent_version.data,
            )  # fmt: skip
            flash(_l("Règles enregistrées."), "info")
            return redirect(url_for("members.rules"))
        except DomainError as error:
            show_error(form, error)
            return render_template("members/rules.html", form=form, rules=current, title=_l("Règles")), 422
    return render_template("members/rules.html", form=form, rules=current, title=_l("Règles d'adhésion"))


# --- enrolment ---------------------------------------------------------------------------------------------


def _draft(draft_id: str) -> EnrolmentDraft:
    draft = services.get_draft(db.session, current_actor(), draft_id)
    if draft.member_id is not None:
        abort(410)
    return draft


def _person_input(data: dict[str, Any]) -> services.PersonInput:
    identity, contact = data.get("identity", {}), data.get("contact", {})
    fields = services.PersonInput.__dataclass_fields__
    values = {name: str((identity | contact).get(name) or "") for name in fields}
    return services.PersonInput(**values)


def _form_for(step: str, data: dict[str, Any], formdata: Any = None) -> Any:
    form = _STEP_FORMS[step](formdata=formdata, data=data.get(step, {}))
    if step == "identity":
        form.association.choices = _association_choices("members.enrol")
    if step == "contact":
        form.trade.choices = [SelectChoice("", "—")] + [
            SelectChoice(t, t) for t in trades_for(g.tenant_record.sector)
        ]
    if step == "consent" and not form.given_on.data:
        form.given_on.data = clock.today().strftime("%d/%m/%Y")
    return form


def _past_day(raw: str | None, field: str) -> dt.date:
    """A day typed JJ/MM/AAAA that has already come (consent given, status effective)."""
    day = dates.parse_day(raw, field)
    if day > local_today():  # the calendar's future, whatever the business date
        raise FieldError(field, _l("Cette date est dans le futur."))
    return day


def _check_step(step: str, data: dict[str, Any]) -> None:
    """The rules of one step, on everything typed so far (errors of this step's fields only)."""
    tenant, actor = current_tenant(), current_actor()
    if step == "identity":
        association = data.get("identity", {}).get("association") or ""
        if not association.isdigit():
            raise FieldError("association", _l("Choisissez l'association."))
        services.require_association(db.session, actor, tenant, int(association), "members.enrol")
    if step in {"identity", "contact"}:
        services.clean_person(_person_input(data), today=clock.today(), sector=g.tenant_record.sector)
    if step == "consent":
        consent = data.get("consent", {})
        if not consent.get("consent"):
            raise FieldError("consent", _l("Le consentement signé est nécessaire pour activer les droits."))
        _past_day(consent.get("given_on", ""), "given_on")


@bp.route("/inscription", methods=["GET", "POST"], defaults={"draft_id": None, "step": "identity"})
@bp.route("/inscription/<draft_id>/<step>", methods=["GET", "POST"])
@requires("members.enrol")
def enrol_step(draft_id: str | None, step: str) -> str | Response:
    """One step of the enrolment. Every POST first keeps what was typed in the draft, valid or not."""
    if step not in _STEP_FORMS:
        return (
            redirect(url_for("members.household", draft_id=draft_id)) if step == "household" else abort(404)
        )
    draft = _draft(draft_id) if draft_id else None
    data = dict(draft.data) if draft else {}
    if request.method == "POST":
        typed = {k: v for k, v in request.form.items() if k != "csrf_token"}
        if step == "consent":
            typed["consent"] = "consent" in request.form
        data[step] = typed
        draft = services.save_draft(
            db.session,
            current_actor(),
            draft_id=draft.public_id if draft else None,
            data={step: typed},
            step=step,
        )
        form = _form_for(step, data, request.form)
        try:
            _check_step(step, data)
            return redirect(_next_step_url(draft, step))
        except DomainError as error:
            db.session.commit()  # the draft is kept even though the step is refused
            show_error(form, error)
            return _step_page(step, form, draft), 422
    return _step_page(step, _form_for(step, data), draft)


def _next_step_url(draft: EnrolmentDraft, step: str) -> str:
    following = STEPS[STEPS.index(step) + 1]
    if following == "household":
        return url_for("members.household", draft_id=draft.public_id)
    if following == "review":
        return url_for("members.review", draft_id=draft.public_id)
    return url_for("members.enrol_step", draft_id=draft.public_id, step=following)


def _step_page(step: str, form: Any, draft: EnrolmentDraft | None, **extra: Any) -> str:
    return render_template(
        f"members/enrol_{step}.html",
        form=form,
        draft=draft,
        step=step,
        steps=STEPS,
        title=STEP_LABELS[step],
        **extra,
    )


@bp.post("/inscription/<draft_id>/brouillon")
@requires("members.enrol")
def autosave(draft_id: str) -> tuple[str, int]:
    """htmx: keep a step's fields as they are being typed (no checks); a power cut loses almost nothing."""
    step = request.form.get("_step", "")
    if step in _STEP_FORMS:
        typed = {k: v for k, v in request.form.items() if k not in {"csrf_token", "_step"}}
        services.save_draft(
            db.session, current_actor(), draft_id=_draft(draft_id).public_id, data={step: typed}, step=step
        )
    return "", 204


@bp.route("/inscription/<draft_id>/foyer", methods=["GET", "POST"])
@requires("members.enrol")
def household(draft_id: str) -> str | Response | tuple[str, int]:
    """Ayants droit: each one is checked (identity, child age limit, household size) as it is added."""
    draft = _draft(draft_id)
    form = DependantForm()
    if request.method == "POST":
        typed = {k: v for k, v in request.form.items() if k != "csrf_token"}
        try:
            rules = member_rules(db.session, current_tenant())
            person = services.PersonInput(**{k: typed.get(k, "") for k in _DEPENDANT_FIELDS})
            clean = services.clean_person(person, today=clock.today())
            services.check_eligibility(
                rules,
                clean,
                typed.get("relationship", ""),
                1 + len(draft.data.get("dependants", [])),
                clock.today(),
            )
            services.save_draft(
                db.session, current_actor(), draft_id=draft.public_id,
                data={"dependants": [*draft.data.get("dependants", []), typed]}, step="household",
            )  # fmt: skip
            flash(_l("Ayant droit ajouté."), "info")
            return redirect(url_for("members.household", draft_id=draft.public_id))
        except DomainError as error:
            show_error(form, error)
            return _household_page(form, draft), 422
    return _household_page(form, draft)


def _household_page(form: DependantForm, draft: EnrolmentDraft) -> str:
    return render_template(
        "members/enrol_household.html", form=form, draft=draft, step="household", steps=STEPS,
        title=STEP_LABELS["household"],
    )  # fmt: skip


@bp.post("/inscription/<draft_id>/foyer/<int:index>/retirer")
@requires("members.enrol")
def remove_dependant(draft_id: str, index: int) -> Response:
    draft = _draft(draft_id)
    dependants = list(draft.data.get("dependants", []))
    if 0 <= index < len(dependants):
        dependants.pop(index)
        services.save_draft(
            db.session,
            current_actor(),
            draft_id=draft.public_id,
            data={"dependants": dependants},
            step="household",
        )
    return redirect(url_for("members.household", draft_id=draft.public_id))


@bp.post("/inscription/<draft_id>/abandonner")
@requires("members.enrol")
def discard(draft_id: str) -> Response:
    services.discard_draft(db.session, current_actor(), _draft(draft_id))
    flash(_l("Brouillon supprimé."), "info")
    return redirect(url_for("members.index"))


@bp.route("/inscription/<draft_id>/verification", methods=["GET", "POST"])
@requires("members.enrol")
def review(draft_id: str) -> str | Response | tuple[str, int]:
    """Everything at a glance; possible duplicates are shown before anything is saved."""
    draft = _draft(draft_id)
    form = ConfirmForm()
    candidates: list[services.DuplicateCandidate] = []
    if request.method == "POST" and form.validate():
        try:
            member = _enrol_from(draft, allow_duplicates=bool(form.not_duplicate.data))
            draft.member_id = member.id
            flash(_l("Inscription enregistrée : n° %(number)s.", number=member.number), "info")
            return redirect(url_for("members.detail", public_id=member.public_id))
        except services.DuplicatesFound as found:
            candidates = found.candidates
            g.mbolo_rollback = True
            form.not_duplicate.errors = [found.message]
        except DomainError as error:
            show_error(form, error)
            step = _FIELD_STEP.get(getattr(error, "field", ""), "")
            if step:
                form.form_errors.append(_l("Corrigez l'étape « %(step)s ».", step=STEP_LABELS[step]))
    status = 409 if candidates else (422 if form.errors or form.form_errors else 200)
    return render_template(
        "members/enrol_review.html", form=form, draft=draft, data=draft.data, step="review", steps=STEPS,
        candidates=candidates, associations=_association_names(), title=STEP_LABELS["review"],
    ), status  # fmt: skip


def _enrol_from(draft: EnrolmentDraft, *, allow_duplicates: bool) -> Member:
    data = draft.data
    for step in ("identity", "contact", "consent"):
        _check_step(step, data)
    consent = data.get("consent", {})
    given_on = _past_day(consent.get("given_on", ""), "given_on")
    return services.enrol(
        db.session, current_tenant(), current_actor(),
        person=_person_input(data), association_id=int(data["identity"]["association"]),
        sector=g.tenant_record.sector,
        dependants=[
            services.DependantInput(
                services.PersonInput(**{k: d.get(k, "") for k in _DEPENDANT_FIELDS}),
                d.get("relationship", ""),
            )
            for d in data.get("dependants", [])
        ],
        consent=services.ConsentInput(given_on=given_on),
        allow_duplicates=allow_duplicates,
    )  # fmt: skip


# --- the member page ---------------------------------------------------------------------------------------


def _member(public_id: str, permission: str = "members.read", *, audit_read: bool = False) -> Member:
    return services.get_member(
        db.session, current_tenant(), current_actor(), public_id, permission=permission, audit_read=audit_read
    )


@bp.get("/<public_id>")
@requires("members.read")
def detail(public_id: str) -> str:
    """A beneficiary: identity, household, status history, consent, card."""
    member = _member(public_id, audit_read=True)
    return _detail_page(member)


def _detail_page(member: Member, **forms: Any) -> str:
    actor = current_actor()
    principal = member.principal or member
    status_form = forms.get("status_form") or StatusForm()
    status_form.status.choices = [
        SelectChoice(s.value, str(STATUS_LABELS[s.value])) for s in services.TRANSITIONS[member.status]
    ]
    return render_template(
        "members/detail.html",
        member=member,
        principal=principal,
        household=services.household_of(member),
        consents=services.consents_of(db.session, member),
        current_consent=services.current_consent(db.session, member),
        association=_association_names().get(member.association_id, ""),
        status_form=status_form,
        dependant_form=forms.get("dependant_form") or DependantForm(),
        consent_form=forms.get("consent_form")
        or ConsentForm(data={"given_on": clock.today().strftime("%d/%m/%Y")}),
        reason_form=forms.get("reason_form") or ReasonForm(),
        can_manage=actor.can("members.manage"),
        can_enrol=actor.can("members.enrol"),
        can_see_contributions=actor.can("contributions.read"),
        today=clock.today(),
        title=member.full_name,
    )


@bp.post("/<public_id>/statut")
@requires("members.manage")
def change_status(public_id: str) -> str | Response | tuple[str, int]:
    member = _member(public_id, "members.manage")
    form = StatusForm()
    try:
        effective = (
            _past_day(form.effective_on.data, "effective_on")
            if (form.effective_on.data or "").strip()
            else None
        )
        services.change_status(
            db.session, current_tenant(), current_actor(), member, form.status.data or "",
            form.reason.data or "", effective_on=effective,
        )  # fmt: skip
        flash(_l("Statut modifié."), "info")
        return redirect(url_for("members.detail", public_id=public_id))
    except DomainError as error:
        show_error(form, error)
        return _detail_page(member, status_form=form), 422


@bp.post("/<public_id>/ayants-droit")
@requires("members.enrol")
def add_dependant(public_id: str) -> str | Response | tuple[str, int]:
    member = _member(public_id, "members.enrol")
    form = DependantForm()
    try:
        person = services.PersonInput(**{k: request.form.get(k, "") for k in _DEPENDANT_FIELDS})
        added = services.add_dependant(
            db.session, current_tenant(), current_actor(), member,
            services.DependantInput(person, request.form.get("relationship", "")),
        )  # fmt: skip
        flash(_l("Ayant droit ajouté : n° %(number)s.", number=added.number), "info")
        return redirect(url_for("members.detail", public_id=public_id))
    except DomainError as error:
        show_error(form, error)
        return _detail_page(member, dependant_form=form), 422


@bp.post("/<public_id>/consentement")
@requires("members.manage")
def record_consent(public_id: str) -> str | Response | tuple[str, int]:
    member = _member(public_id, "members.manage")
    form = ConsentForm()
    try:
        if not form.consent.data:
            raise FieldError("consent", _l("Cochez la case une fois le texte lu et signé."))
        given_on = _past_day(form.given_on.data, "given_on")
        services.record_consent(
            db.session, current_tenant(), current_actor(), member,
            services.ConsentInput(given_on=given_on),
        )  # fmt: skip
        flash(_l("Consentement enregistré."), "info")
        return redirect(url_for("members.detail", public_id=public_id))
    except DomainError as error:
        show_error(form, error)
        return _detail_page(member, consent_form=form), 422


@bp.post("/<public_id>/consentement/retrait")
@requires("members.manage")
def withdraw_consent(public_id: str) -> str | Response | tuple[str, int]:
    member = _member(public_id, "members.manage")
    form = ReasonForm()
    try:
        services.withdraw_consent(
            db.session, current_tenant(), current_actor(), member, form.reason.data or ""
        )
        flash(_l("Retrait du consentement enregistré : le foyer est suspendu."), "warning")
        return redirect(url_for("members.detail", public_id=public_id))
    except DomainError as error:
        show_error(form, error)
        return _detail_page(member, reason_form=form), 422
