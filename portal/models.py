"""The portal's own tables: a member's portal access (activation, optional password, session epoch) and the
one-time sign-in codes sent by SMS."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.database import TenantModel, utcnow


class PortalAccess(TenantModel):
    """One row per member who has signed in once (the first sign-in is the activation)."""

    __tablename__ = "portal_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    activated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: argon2, set by the member once signed in (optional: the SMS code always works).
    password_hash: Mapped[str | None] = mapped_column(String(200))
    password_set_at: Mapped[dt.datetime | None]
    #: Bumped by "sign out everywhere" and a password change: older portal sessions stop working.
    session_epoch: Mapped[int] = mapped_column(default=0)
    last_sign_in_at: Mapped[dt.datetime | None]
    #: An adhérent's choice: the adult ayants droit of the household see all of it (rights, cotisations).
    share_household: Mapped[bool] = mapped_column(default=False)
    #: Consecutive wrong passwords; at the limit the password is refused until a code sign-in.
    failed_passwords: Mapped[int] = mapped_column(SmallInteger, default=0)


class SignInCode(TenantModel):
    """A one-time code: 6 digits, stored as a keyed hash, valid 10 minutes, 5 tries, single use."""

    __tablename__ = "portal_sign_in_codes"
    __table_args__ = (Index("ix_portal_sign_in_codes_member", "member_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    #: Set once, by the conditional UPDATE that accepts the code (or when a newer code replaces it).
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    requested_ip: Mapped[str | None] = mapped_column(String(45))
