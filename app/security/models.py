"""Staff accounts, profiles, grants and the second factor (all in ``public``)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from flask_login import UserMixin
from sqlalchemy import JSON, BigInteger, Column, ForeignKey, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import SharedModel, new_public_id, string_enum, utcnow


class AccountStatus(enum.StrEnum):
    invited = "invited"  # created by an administrator, password not chosen yet
    active = "active"
    disabled = "disabled"


class Density(enum.StrEnum):
    comfortable = "comfortable"
    compact = "compact"


class TextSize(enum.StrEnum):
    small = "small"
    normal = "normal"
    large = "large"


class Account(UserMixin, SharedModel):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200), unique=True)
    #: E.164 (``app.phones``); like the e-mail, it signs in (agents often have a phone and no e-mail).
    phone: Mapped[str | None] = mapped_column(String(30), unique=True)
    #: Deferred: loaded only where a password is checked, so tenant roles need no right on this column.
    password_hash: Mapped[str | None] = mapped_column(String(200), deferred=True)
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    ui_density: Mapped[Density] = mapped_column(string_enum(Density), default=Density.comfortable)
    ui_text_size: Mapped[TextSize] = mapped_column(string_enum(TextSize), default=TextSize.normal)
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    status: Mapped[AccountStatus] = mapped_column(string_enum(AccountStatus), default=AccountStatus.active)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    last_login_at: Mapped[dt.datetime | None]
    password_changed_at: Mapped[dt.datetime | None]
    #: Progressive lockout: consecutive failed sign-ins and the moment the account opens again.
    failed_sign_ins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    #: Bumped by "sign out everywhere", a password change or a disable: older sessions stop being valid.
    session_epoch: Mapped[int] = mapped_column(default=0)

    grants: Mapped[list[Grant]] = relationship(
        back_populates="account", lazy="selectin", foreign_keys="Grant.account_id"
    )
    #: Loaded on use only (never inside a tenant's transaction: tenant roles cannot read credentials).
    totp: Mapped[TotpCredential | None] = relationship(back_populates="account", lazy="select")

    def get_id(self) -> str:
        # The epoch makes every session issued before "sign out everywhere" unloadable.
        return f"{self.public_id}.{self.session_epoch}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled and invited accounts
        return self.status == AccountStatus.active

    @property
    def login_label(self) -> str:
        """How the person signs in (e-mail, else phone), for screens and the audit log."""
        return self.email or self.phone or self.full_name

    @property
    def has_mfa(self) -> bool:
        return self.totp is not None and self.totp.confirmed_at is not None


profile_permissions_table = Table(
    "profile_permissions",
    SharedModel.metadata,
    Column("profile_id", ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True),
    Column("permission", ForeignKey("permissions.code"), primary_key=True),
)


class KnownPermission(SharedModel):
    """Every permission code the platform has ever declared (``app.security.permissions``), so that a new
    code is added once to the built-in profiles meant to have it, without undoing administrators' edits."""

    __tablename__ = "permissions"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Profile(SharedModel):
    """A bundle of permissions, edited by administrators; built-in profiles can be edited, not deleted."""

    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    built_in: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    permission_rows: Mapped[list[KnownPermission]] = relationship(
        secondary=profile_permissions_table, lazy="selectin", order_by=KnownPermission.code
    )

    @property
    def permissions(self) -> frozenset[str]:
        return frozenset(p.code for p in self.permission_rows)


class Grant(SharedModel):
    """(account, node, profile): the profile's permissions on that node's subtree, nowhere else."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("account_id", "node_id", "profile_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"), index=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("profiles.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))

    account: Mapped[Account] = relationship(back_populates="grants", foreign_keys=[account_id])
    node = relationship("Node", lazy="joined")
    profile: Mapped[Profile] = relationship(lazy="joined")


class TokenPurpose(enum.StrEnum):
    invitation = "invitation"
    password_reset = "password_reset"  # noqa: S105 - a purpose, not a password


class AccountToken(SharedModel):
    """A single-use link (invitation or password reset). The link carries a signed random value; only its
    SHA-256 is stored, so a database read does not yield usable links."""

    __tablename__ = "account_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    purpose: Mapped[TokenPurpose] = mapped_column(string_enum(TokenPurpose))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class TotpCredential(SharedModel):
    """An account's TOTP secret, encrypted (AES-GCM, key id in the ciphertext, "totp:<public id>" as AAD).
    ``last_used_step`` makes every code single-use: a code is accepted only for a later time step."""

    __tablename__ = "totp_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), unique=True)
    secret_ciphertext: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None]
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]

    account: Mapped[Account] = relationship(back_populates="totp")


class RecoveryCode(SharedModel):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    used_at: Mapped[dt.datetime | None]


class StepUpApproval(SharedModel):
    """A one-time approval of one critical operation (OWASP Transaction Authorization): the operation's
    significant data is kept server-side and its SHA-256 binds the approval; ``payload`` holds what the user
    typed so the form comes back intact; it is cleared once the approval is used or voided."""

    __tablename__ = "stepup_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    operation: Mapped[str] = mapped_column(String(60))
    digest: Mapped[str] = mapped_column(String(64))
    summary: Mapped[list[Any]] = mapped_column(JSON, default=list)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    action_url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    approved_at: Mapped[dt.datetime | None]
    consumed_at: Mapped[dt.datetime | None]


class SecurityAlert(SharedModel):
    """Raised when security events from one source pass the threshold; platform administrators see it."""

    __tablename__ = "security_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)  # "ip:1.2.3.4" or "account:<email>"
    event_count: Mapped[int]
    first_event_at: Mapped[dt.datetime]
    raised_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[dt.datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    comment: Mapped[str] = mapped_column(String(500), default="")
