"""The report archive (``public.supervision_reports``): one row per requested or scheduled report."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import SharedModel, new_public_id, utcnow


class Report(SharedModel):
    __tablename__ = "supervision_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    node_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_nodes.id"))
    year: Mapped[int]
    quarter: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed
    progress: Mapped[int] = mapped_column(default=0)  # percent
    pdf_path: Mapped[str | None] = mapped_column(String(300))
    xlsx_path: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    automatic: Mapped[bool] = mapped_column(default=False)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    requested_by_label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None]

    node = relationship("Node", lazy="joined")

    @property
    def label(self) -> str:
        return f"T{self.quarter} {self.year}"
