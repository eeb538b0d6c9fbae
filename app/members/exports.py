"""A member's own data, for their right of access (Senegal's law 2008-12 on personal data, art. 62).

``member_data`` gathers what the mutual holds about a person — for an adhérent, their whole household —
as plain JSON-ready values; ``render_pdf`` prints the same dictionary. Later modules add their part
(contributions, care…) without touching this file::

    from app.members.exports import export_section

    @export_section("contributions")
    def _contributions(session, tenant, member): return [...]

A section gets the adhérent or ayant droit asked for and returns JSON-ready values (lists of flat dicts print
best); it is added under its name, after the register's own keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from fpdf import FPDF
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.database import utcnow
from app.members import cards, services
from app.members.models import Consent, Member
from app.members.rules import RELATIONSHIP_LABELS, STATUS_LABELS
from app.security.actor import Actor
from hierarchy.models import Node
from tenants.context import TenantRef

FORMAT = "mbolo.member-data/1"
Section = Callable[[Session, TenantRef, Member], Any]
#: name → section, in registration order (see the module docstring).
SECTIONS: dict[str, Section] = {}

#: Printed labels of the keys (the JSON keeps the plain names).
LABELS: dict[str, object] = {
    "number": _l("Numéro"), "relationship": _l("Lien"), "status": _l("Statut"),
    "last_name": _l("Nom"), "first_names": _l("Prénoms"), "sex": _l("Sexe"),
    "birth_date": _l("Date de naissance"), "birth_year": _l("Année de naissance"),
    "birth_place": _l("Lieu de naissance"), "national_id": _l("N° d'identification national"),
    "phone": _l("Téléphone"), "phone_alt": _l("Autre téléphone"), "address": _l("Adresse"),
    "commune": _l("Commune"), "region": _l("Région"), "trade": _l("Métier"),
    "association": _l("Association"), "enrolled_on": _l("Inscrit(e) le"), "photo": _l("Photo enregistrée"),
    "from_status": _l("De"), "to_status": _l("À"), "reason": _l("Motif"), "effective_on": _l("À compter du"),
    "at": _l("Enregistré le"), "by": _l("Par"), "text_version": _l("Version du texte"),
    "given_on": _l("Donné le"), "collected_by": _l("Recueilli par"), "withdrawn_at": _l("Retiré le"),
    "withdrawn_by": _l("Retrait enregistré par"), "withdrawal_reason": _l("Motif du retrait"),
    "scan": _l("Formulaire signé numérisé"),
}  # fmt: skip


def export_section(name: str) -> Callable[[Section], Section]:
    """Register a module's part of the export under ``name``."""

    def register(function: Section) -> Section:
        SECTIONS[name] = function
        return function

    return register


def _iso(value: dt.date | dt.datetime | None) -> str | None:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat() if value is not None else None


def _person(member: Member, associations: Mapping[int, str]) -> dict[str, Any]:
    return {
        "number": member.number,
        "relationship": str(member.relation),
        "status": str(member.status),
        "last_name": member.last_name,
        "first_names": member.first_names,
        "sex": str(member.sex),
        "birth_date": _iso(member.birth_date),
        "birth_year": member.birth_year,
        "birth_place": member.birth_place,
        "national_id": member.national_id,
        "phone": member.phone,
        "phone_alt": member.phone_alt,
        "address": member.address,
        "commune": member.commune,
        "region": member.region,
        "trade": member.trade,
        "association": associations.get(member.association_id),
        "enrolled_on": _iso(member.enrolled_on),
        "photo": bool(member.photo_path),
        "status_history": [
            {
                "from_status": event.from_status,
                "to_status": event.to_status,
                "reason": event.reason,
                "effective_on": _iso(event.effective_on),
                "at": _iso(event.at),
                "by": event.actor_label,
            }  # fmt: skip
            for event in member.history
        ],
    }


def _consent(consent: Consent) -> dict[str, Any]:
    return {
        "text_version": consent.text_version,
        "given_on": _iso(consent.given_on),
        "collected_by": consent.collected_by_label,
        "withdrawn_at": _iso(consent.withdrawn_at),
        "withdrawn_by": consent.withdrawn_by_label,
        "withdrawal_reason": consent.withdrawal_reason,
        "scan": bool(consent.scan_path),
    }


def member_data(session: Session, tenant: TenantRef, member: Member) -> dict[str, Any]:
    """Everything held about ``member``: an adhérent's household, or an ayant droit alone (another adult's
    data is not theirs to receive), with the consents covering them and each registered section."""
    people = services.household_of(member) if member.is_principal else [member]
    ids = {p.association_id for p in people}
    associations = {node.id: node.name for node in (session.get(Node, i) for i in ids) if node is not None}
    data: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": _iso(utcnow()),
        "mutual": {"name": tenant.name, "identifier": tenant.slug},
        "household": [_person(p, associations) for p in people],
        "consents": [_consent(c) for c in services.consents_of(session, member)],
    }
    for name, section in SECTIONS.items():
        data[name] = section(session, tenant, member)
    return data


def export_member_data(
    session: Session, tenant: TenantRef, actor: Actor, member: Member, *, fmt: str
) -> dict[str, Any]:
    """``member_data``, audited as handed over (``fmt``: json or pdf); the caller got ``member`` through
    ``services.get_member`` (in the actor's reach, read audited)."""
    data = member_data(session, tenant, member)
    record_event(
        session, actor, "members.data_exported", target_type="member", target_id=member.number,
        format=fmt, people=[p["number"] for p in data["household"]],
    )  # fmt: skip
    return data


# --- PDF ---------------------------------------------------------------------------------------------------

_VALUE_LABELS: dict[str, Mapping[str, object]] = {
    "relationship": RELATIONSHIP_LABELS,
    "status": STATUS_LABELS,
    "from_status": STATUS_LABELS,
    "to_status": STATUS_LABELS,
    "sex": {"F": _l("Femme"), "M": _l("Homme")},
}


_DATES = {"birth_date", "enrolled_on", "effective_on", "given_on"}
_TIMES = {"at", "withdrawn_at", "generated_at"}


def _shown(key: str, value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return _("oui") if value else _("non")
    labels = _VALUE_LABELS.get(key)
    if labels is not None and str(value) in labels:
        return str(labels[str(value)])
    if key in _DATES:
        return dt.date.fromisoformat(value).strftime("%d/%m/%Y")
    if key in _TIMES:
        return dt.datetime.fromisoformat(value).strftime("%d/%m/%Y %H:%M UTC")
    return str(value)


class _Document(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "", 7)
        self.set_text_color(91, 107, 112)
        self.cell(0, 5, cards.latin1(f"Mbolo - {self.page_no()}/{{nb}}"), align="C")


def _rows(pdf: FPDF, row: Mapping[str, Any]) -> None:
    for key, value in row.items():
        if isinstance(value, list | dict):
            continue
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(55, 5, cards.latin1(LABELS.get(key, key)))
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(0, 5, cards.latin1(_shown(key, value)), new_x="LMARGIN", new_y="NEXT")


def _line(pdf: FPDF, value: object) -> None:
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, cards.latin1(value), new_x="LMARGIN", new_y="NEXT")


def _heading(pdf: FPDF, title: object, size: float = 12) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", size)
    pdf.set_text_color(11, 110, 79)
    pdf.multi_cell(0, size * 0.5, cards.latin1(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(29, 42, 47)
    pdf.ln(1)


def render_pdf(data: Mapping[str, Any]) -> bytes:
    """The export as an A4 document a member can read and keep."""
    pdf = _Document(unit="mm", format="A4")
    pdf.set_compression(cards.PDF_COMPRESSION)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_page()
    _heading(pdf, _("Vos données personnelles — %(mutual)s", mutual=data["mutual"]["name"]), 15)
    _line(
        pdf,
        _(
            "Document établi le %(date)s : ce que la mutuelle enregistre sur vous et votre foyer.",
            date=_shown("generated_at", data["generated_at"]),
        ),
    )
    for person in data["household"]:
        _heading(pdf, f"{person['first_names']} {person['last_name']} ({person['number']})")
        _rows(pdf, person)
        if person["status_history"]:
            _heading(pdf, _("Historique du statut"), 10)
            for step in person["status_history"]:
                _rows(pdf, step)
                pdf.ln(1.5)
    _heading(pdf, _("Consentements"))
    if not data["consents"]:
        _line(pdf, _("Aucun consentement enregistré."))
    for consent in data["consents"]:
        _rows(pdf, consent)
        pdf.ln(1.5)
    for name in SECTIONS:
        _heading(pdf, LABELS.get(name, name))
        value = data.get(name)
        for row in value if isinstance(value, list) else [value]:
            _rows(pdf, row if isinstance(row, Mapping) else {name: row})
            pdf.ln(1.5)
    return bytes(pdf.output())
