"""Staff accounts and their grants (``public``)."""

from __future__ import annotations

import datetime as dt
import enum

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import SharedModel, new_public_id, utcnow


class AccountStatus(enum.StrEnum):
    active = "active"
    disabled = "disabled"


class Account(UserMixin, SharedModel):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200), unique=True)
    phone: Mapped[str | None] = mapped_column(String(30))
    password_hash: Mapped[str] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(8), default="fr")
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    status: Mapped[AccountStatus] = mapped_column(
        Enum(AccountStatus, native_enum=False, length=20), default=AccountStatus.active
    )
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    grants: Mapped[list[Grant]] = relationship(back_populates="account", lazy="selectin")

    def get_id(self) -> str:
        return self.public_id

    @property
    def is_active(self) -> bool:  # Flask-Login refuses disabled accounts
        return self.status == AccountStatus.active


class Grant(SharedModel):
    """(account, node, profile): the profile's permissions on that node's subtree, nowhere else."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("account_id", "node_id", "profile"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"), index=True)
    profile: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    account: Mapped[Account] = relationship(back_populates="grants")
    node = relationship("Node", lazy="joined")
