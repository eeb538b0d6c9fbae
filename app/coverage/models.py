"""Products (versioned tariffs), the benefits catalogue, each product's coverage rules, and the history of
beneficiaries' rights. Money is integer XOF."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.database import TenantModel, new_public_id, string_enum, utcnow


class Basis(enum.StrEnum):
    per_adherent = "per_adherent"  # the adhérent pays for themself only
    per_beneficiary = "per_beneficiary"  # each covered person of the household counts
    per_household = "per_household"


class Periodicity(enum.StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    half_yearly = "half_yearly"
    yearly = "yearly"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "half_yearly": 6, "yearly": 12}[self.value]


class BandDimension(enum.StrEnum):
    age = "age"  # of each person priced (per beneficiary) or of the adhérent (per adhérent)
    household_size = "household_size"  # covered persons (per household)


class Product(TenantModel):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    valid_from: Mapped[dt.date]
    valid_to: Mapped[dt.date | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[ProductVersion]] = relationship(
        back_populates="product", order_by="ProductVersion.effective_from"
    )
    benefits: Mapped[list[ProductBenefit]] = relationship(back_populates="product")

    def version_on(self, day: dt.date) -> ProductVersion | None:
        """The tariff in force on ``day`` (the latest version that started on or before it)."""
        started = [v for v in self.versions if v.effective_from <= day]
        return started[-1] if started else None


class ProductVersion(TenantModel):
    """A tariff, from a date: a change of tariff is a new version (a critical function); the old ones stay."""

    __tablename__ = "product_versions"
    __table_args__ = (UniqueConstraint("product_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    number: Mapped[int]
    effective_from: Mapped[dt.date]
    basis: Mapped[Basis] = mapped_column(string_enum(Basis))
    #: The flat amount per period (when no bands apply, or for sizes/ages no band covers).
    amount: Mapped[int] = mapped_column(default=0)
    periodicity: Mapped[Periodicity] = mapped_column(string_enum(Periodicity))
    joining_fee: Mapped[int] = mapped_column(default=0)
    waiting_days: Mapped[int] = mapped_column(default=0)
    grace_days: Mapped[int] = mapped_column(default=0)
    max_beneficiaries: Mapped[int | None]
    child_age_limit: Mapped[int | None]
    reason: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_label: Mapped[str] = mapped_column(String(200), default="")

    product: Mapped[Product] = relationship(back_populates="versions")
    bands: Mapped[list[TariffBand]] = relationship(order_by="TariffBand.low", cascade="all, delete-orphan")
    subsidies: Mapped[list[VersionSubsidy]] = relationship(cascade="all, delete-orphan")


class TariffBand(TenantModel):
    """Amount per period for ages (or household sizes) from ``low`` to ``high`` included."""

    __tablename__ = "tariff_bands"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("product_versions.id"), index=True)
    dimension: Mapped[BandDimension] = mapped_column(string_enum(BandDimension))
    low: Mapped[int]
    high: Mapped[int]
    amount: Mapped[int]


class VersionSubsidy(TenantModel):
    """A funder's share of each due (e.g. the State for packages of universal health coverage): a percentage
    of the contribution, or a fixed amount per due."""

    __tablename__ = "version_subsidies"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("product_versions.id"), index=True)
    funder: Mapped[str] = mapped_column(String(80))
    percent: Mapped[int | None]
    amount: Mapped[int | None]


class BenefitCategory(enum.StrEnum):
    consultation = "consultation"
    hospitalisation = "hospitalisation"
    maternity = "maternity"
    laboratory = "laboratory"
    imaging = "imaging"
    dental = "dental"
    optical = "optical"
    medicine = "medicine"
    other = "other"


class Benefit(TenantModel):
    """The catalogue: acts and services, and medicines (INN, form, strength)."""

    __tablename__ = "benefits"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[BenefitCategory] = mapped_column(string_enum(BenefitCategory))
    inn: Mapped[str | None] = mapped_column(String(120))  # medicines: international non-proprietary name
    form: Mapped[str | None] = mapped_column(String(60))
    strength: Mapped[str | None] = mapped_column(String(60))
    reference_price: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProductBenefit(TenantModel):
    """What a product does for one benefit: covered at a rate (the member pays the rest, the ticket
    modérateur) within ceilings and limits — or explicitly excluded."""

    __tablename__ = "product_benefits"
    __table_args__ = (UniqueConstraint("product_id", "benefit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    benefit_id: Mapped[int] = mapped_column(ForeignKey("benefits.id"), index=True)
    covered: Mapped[bool] = mapped_column(default=True)
    rate_percent: Mapped[int] = mapped_column(default=80)
    reference_price: Mapped[int | None]
    ceiling_per_act: Mapped[int | None]
    ceiling_per_beneficiary_year: Mapped[int | None]
    ceiling_per_household_year: Mapped[int | None]
    frequency_count: Mapped[int | None]  # e.g. 1 pair of glasses …
    frequency_months: Mapped[int | None]  # … every 24 months
    min_age: Mapped[int | None]
    max_age: Mapped[int | None]
    sex: Mapped[str | None] = mapped_column(String(1))  # F | M | None (both)
    prior_approval: Mapped[bool] = mapped_column(default=False)

    product: Mapped[Product] = relationship(back_populates="benefits")
    benefit: Mapped[Benefit] = relationship(lazy="joined")


class RightsEvent(TenantModel):
    """A change of a beneficiary's rights (opened, closed, reason changed), with its date and reason."""

    __tablename__ = "rights_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    effective_on: Mapped[dt.date]
    covered: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(40))  # a code of app.coverage.rights.Reason
    details: Mapped[str] = mapped_column(String(300), default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
