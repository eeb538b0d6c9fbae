"""A member's care dossiers (guarantee letters, care records) for the portal — filled by the care module."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.members.models import Member


def member_dossiers(session: Session, member: Member) -> list[Any]:
    """The household's guarantee letters and care lines (invoices submitted or later) with their status, what
    the mutual paid and what is left to the member, newest first (``app.care.records.household_dossiers``)."""
    from app.care.records import household_dossiers

    return household_dossiers(session, member)
