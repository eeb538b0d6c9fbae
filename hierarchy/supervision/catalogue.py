"""The indicator catalogue: additive base measures (what snapshots store) and the indicators built from them.

Every stored value is a sum, so a parent's value is the sum of its children's. An indicator is either one
measure or the ratio of two measures; a ratio is always computed from summed numerators and denominators,
never by averaging the children's ratios. Over a period of several months a *flow* measure (new adhérents,
amounts collected) is summed and a *stock* measure (active adhérents, arrears) is taken at the period's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l

FLOW, STOCK = "flow", "stock"
#: Where a measure is computed: per association (rolled up from there) or for the whole mutual (stored at
#: its fédération: subsidies owed by funders and providers' invoices are not per association).
ASSOCIATION, TENANT = "association", "tenant"
SEXES = ("F", "M")
AGE_BANDS = ("a0-4", "a5-17", "a18-39", "a40-59", "a60+")
BREAKDOWN_LABELS = {
    "F": _l("Femmes"),
    "M": _l("Hommes"),
    "a0-4": _l("0–4 ans"),
    "a5-17": _l("5–17 ans"),
    "a18-39": _l("18–39 ans"),
    "a40-59": _l("40–59 ans"),
    "a60+": _l("60 ans et plus"),
}


@dataclass(frozen=True)
class Measure:
    code: str
    kind: str  # FLOW or STOCK
    level: str = ASSOCIATION
    by_sex_and_age: bool = False


MEASURES = {
    m.code: m
    for m in (
        Measure("adherents_active", STOCK, by_sex_and_age=True),
        Measure("adherents_new", FLOW, by_sex_and_age=True),
        Measure("adherents_left", FLOW, by_sex_and_age=True),
        Measure("beneficiaries_active", STOCK, by_sex_and_age=True),
        Measure("beneficiaries_new", FLOW, by_sex_and_age=True),
        Measure("beneficiaries_left", FLOW, by_sex_and_age=True),
        Measure("dues_expected", FLOW),
        Measure("dues_collected", FLOW),
        Measure("payments_received", FLOW),
        Measure("arrears", STOCK),
        Measure("subsidies_due", FLOW),
        Measure("subsidies_receivable", FLOW, TENANT),
        Measure("subsidies_received", FLOW, TENANT),
        Measure("complaints_filed", FLOW),
        Measure("complaints_open", STOCK),
        Measure("complaints_overdue", STOCK),
        Measure("complaints_resolved", FLOW),
        Measure("complaints_resolved_sla", FLOW),
        Measure("ratings_count", FLOW),
        Measure("ratings_sum", FLOW),
        Measure("ratings_satisfied", FLOW),
        Measure("care_records", FLOW),
        Measure("care_amount_asked", FLOW),
        Measure("care_amount_accepted", FLOW),
        Measure("ceiling_alerts_open", STOCK),
        Measure("invoices_submitted", FLOW, TENANT),
        Measure("invoices_amount_asked", FLOW, TENANT),
        Measure("invoices_validated", FLOW, TENANT),
        Measure("invoices_amount_accepted", FLOW, TENANT),
        Measure("invoices_processing_hours", FLOW, TENANT),
    )
}

COUNT, XOF, PERCENT, RATIO, DAYS, SCORE = "count", "xof", "percent", "ratio", "days", "score"
#: The population target of the node (``supervision_targets``), not a stored measure.
TARGET = "target_population"

SECTIONS = {
    "members": _l("Adhésion"),
    "contributions": _l("Cotisations et subventions"),
    "complaints": _l("Réclamations et satisfaction"),
    "care": _l("Prestations et factures"),
}


@dataclass(frozen=True)
class Indicator:
    code: str
    section: str
    label: object
    definition: object
    unit: str
    numerator: str
    denominator: str | None = None
    #: Ratio × scale (100 for a percentage, 1/24 for hours → days…).
    scale: Decimal = Decimal(1)
    #: Divides the ratio (24: hours summed, days shown).
    divisor: int = 1

    @property
    def is_ratio(self) -> bool:
        return self.denominator is not None

    @property
    def formula(self) -> str:
        if self.denominator is None:
            return f"Σ {self.numerator}"
        factor = "" if self.scale == 1 else f" × {self.scale.normalize()}"
        factor += "" if self.divisor == 1 else f" / {self.divisor}"
        return f"Σ {self.numerator} / Σ {self.denominator}{factor}"

    def value(self, measures: dict[str, int], target: int | None = None) -> Decimal | int | None:
        """The indicator from summed measures (``None`` when a ratio has nothing to divide by)."""
        top = measures.get(self.numerator, 0)
        if self.denominator is None:
            return top
        bottom = target if self.denominator == TARGET else measures.get(self.denominator, 0)
        if not bottom:
            return None
        return (Decimal(top) * self.scale / Decimal(bottom * self.divisor)).quantize(Decimal("0.01"))


def _i(
    code: str,
    section: str,
    label: object,
    definition: object,
    unit: str,
    numerator: str,
    denominator: str | None = None,
    divisor: int = 1,
) -> Indicator:
    scale = Decimal(100) if unit == PERCENT else Decimal(1)
    return Indicator(code, section, label, definition, unit, numerator, denominator, scale, divisor)


INDICATORS = {
    i.code: i
    for i in (
        _i(
            "adherents_active",
            "members",
            _l("Adhérents actifs"),
            _l(
                "Adhérents (titulaires) inscrits, ni en attente de consentement, ni sortis, "
                "à la fin de la période."
            ),
            COUNT,
            "adherents_active",
        ),
        _i(
            "adherents_new",
            "members",
            _l("Nouveaux adhérents"),
            _l("Adhérents dont l'adhésion a pris effet pendant la période."),
            COUNT,
            "adherents_new",
        ),
        _i(
            "adherents_left",
            "members",
            _l("Adhérents sortis"),
            _l("Adhérents radiés ou décédés pendant la période."),
            COUNT,
            "adherents_left",
        ),
        _i(
            "beneficiaries_active",
            "members",
            _l("Bénéficiaires actifs"),
            _l("Adhérents et ayants droit actifs à la fin de la période."),
            COUNT,
            "beneficiaries_active",
        ),
        _i(
            "beneficiaries_new",
            "members",
            _l("Nouveaux bénéficiaires"),
            _l("Adhérents et ayants droit entrés pendant la période."),
            COUNT,
            "beneficiaries_new",
        ),
        _i(
            "beneficiaries_left",
            "members",
            _l("Bénéficiaires sortis"),
            _l("Adhérents et ayants droit sortis pendant la période."),
            COUNT,
            "beneficiaries_left",
        ),
        _i(
            "beneficiaries_per_adherent",
            "members",
            _l("Bénéficiaires par adhérent"),
            _l("Taille moyenne des ménages couverts."),
            RATIO,
            "beneficiaries_active",
            "adherents_active",
        ),
        _i(
            "dropout_rate",
            "members",
            _l("Taux de sortie"),
            _l("Adhérents sortis pendant la période rapportés aux adhérents actifs à sa fin."),
            PERCENT,
            "adherents_left",
            "adherents_active",
        ),
        _i(
            "coverage_rate",
            "members",
            _l("Couverture de la population cible"),
            _l("Bénéficiaires actifs rapportés à la population cible fixée pour le nœud et l'année."),
            PERCENT,
            "beneficiaries_active",
            TARGET,
        ),
        _i(
            "dues_expected",
            "contributions",
            _l("Cotisations appelées"),
            _l("Part des ménages des cotisations dont la période commence dans la période (hors annulées)."),
            XOF,
            "dues_expected",
        ),
        _i(
            "dues_collected",
            "contributions",
            _l("Cotisations recouvrées"),
            _l("Montants affectés à ces mêmes cotisations, à ce jour."),
            XOF,
            "dues_collected",
        ),
        _i(
            "collection_rate",
            "contributions",
            _l("Taux de recouvrement"),
            _l("Cotisations recouvrées rapportées aux cotisations appelées de la période."),
            PERCENT,
            "dues_collected",
            "dues_expected",
        ),
        _i(
            "payments_received",
            "contributions",
            _l("Encaissements"),
            _l("Paiements valides reçus pendant la période (recettes de cotisations)."),
            XOF,
            "payments_received",
        ),
        _i(
            "arrears",
            "contributions",
            _l("Arriérés"),
            _l("Part des ménages restant due sur les cotisations échues, à la fin de la période."),
            XOF,
            "arrears",
        ),
        _i(
            "subsidies_due",
            "contributions",
            _l("Subventions appelées"),
            _l("Part des financeurs (État, partenaires) dans les cotisations de la période."),
            XOF,
            "subsidies_due",
        ),
        _i(
            "subsidies_receivable",
            "contributions",
            _l("Créances sur les financeurs"),
            _l("Montants dus par les financeurs pour les mois de la période (par mutuelle)."),
            XOF,
            "subsidies_receivable",
        ),
        _i(
            "subsidies_received",
            "contributions",
            _l("Subventions reçues"),
            _l("Montants reçus des financeurs pour les mois de la période (par mutuelle)."),
            XOF,
            "subsidies_received",
        ),
        _i(
            "subsidy_recovery_rate",
            "contributions",
            _l("Taux de versement des subventions"),
            _l("Subventions reçues rapportées aux créances sur les financeurs."),
            PERCENT,
            "subsidies_received",
            "subsidies_receivable",
        ),
        _i(
            "complaints_filed",
            "complaints",
            _l("Réclamations reçues"),
            _l("Réclamations déposées pendant la période."),
            COUNT,
            "complaints_filed",
        ),
        _i(
            "complaints_open",
            "complaints",
            _l("Réclamations ouvertes"),
            _l("Réclamations ni répondues ni clôturées à la fin de la période."),
            COUNT,
            "complaints_open",
        ),
        _i(
            "complaints_overdue",
            "complaints",
            _l("Réclamations en retard"),
            _l("Réclamations ouvertes dont le délai d'accusé de réception ou de réponse est dépassé."),
            COUNT,
            "complaints_overdue",
        ),
        _i(
            "complaints_sla_rate",
            "complaints",
            _l("Réclamations résolues dans les délais"),
            _l("Réclamations répondues avant leur échéance, parmi celles résolues pendant la période."),
            PERCENT,
            "complaints_resolved_sla",
            "complaints_resolved",
        ),
        _i(
            "satisfaction_rate",
            "complaints",
            _l("Taux de satisfaction"),
            _l("Notes de 4 ou 5 sur 5 parmi les notes données pendant la période."),
            PERCENT,
            "ratings_satisfied",
            "ratings_count",
        ),
        _i(
            "satisfaction_score",
            "complaints",
            _l("Note moyenne de satisfaction"),
            _l("Somme des notes (1 à 5) divisée par leur nombre."),
            SCORE,
            "ratings_sum",
            "ratings_count",
        ),
        _i(
            "care_records",
            "care",
            _l("Dossiers de soins"),
            _l("Dossiers de soins (par date des soins) des bénéficiaires."),
            COUNT,
            "care_records",
        ),
        _i(
            "care_amount_asked",
            "care",
            _l("Montants facturés"),
            _l("Montants demandés par les prestataires pour ces soins."),
            XOF,
            "care_amount_asked",
        ),
        _i(
            "care_amount_accepted",
            "care",
            _l("Prestations prises en charge"),
            _l("Part de la mutuelle acceptée sur ces soins (lignes acceptées ou réduites)."),
            XOF,
            "care_amount_accepted",
        ),
        _i(
            "acceptance_rate",
            "care",
            _l("Taux d'acceptation des montants"),
            _l("Montants pris en charge rapportés aux montants facturés."),
            PERCENT,
            "care_amount_accepted",
            "care_amount_asked",
        ),
        _i(
            "contributions_benefits_ratio",
            "care",
            _l("Ratio cotisations / prestations"),
            _l("Encaissements de cotisations divisés par les prestations prises en charge."),
            RATIO,
            "payments_received",
            "care_amount_accepted",
        ),
        _i(
            "loss_ratio",
            "care",
            _l("Taux de sinistralité"),
            _l("Prestations prises en charge rapportées aux encaissements de cotisations."),
            PERCENT,
            "care_amount_accepted",
            "payments_received",
        ),
        _i(
            "cost_per_beneficiary",
            "care",
            _l("Coût moyen par bénéficiaire"),
            _l("Prestations prises en charge divisées par les bénéficiaires actifs en fin de période."),
            XOF,
            "care_amount_accepted",
            "beneficiaries_active",
        ),
        _i(
            "ceiling_alerts_open",
            "care",
            _l("Bénéficiaires proches d'un plafond"),
            _l("Bénéficiaires ayant consommé au moins 80 pour cent d'un plafond (alertes non levées)."),
            COUNT,
            "ceiling_alerts_open",
        ),
        _i(
            "invoices_submitted",
            "care",
            _l("Factures reçues"),
            _l("Bordereaux soumis par les prestataires pendant la période (par mutuelle)."),
            COUNT,
            "invoices_submitted",
        ),
        _i(
            "invoices_validated",
            "care",
            _l("Factures validées"),
            _l("Bordereaux validés pendant la période (par mutuelle)."),
            COUNT,
            "invoices_validated",
        ),
        _i(
            "invoices_amount_accepted",
            "care",
            _l("Montant des factures validées"),
            _l("Part de la mutuelle sur les bordereaux validés pendant la période."),
            XOF,
            "invoices_amount_accepted",
        ),
        _i(
            "processing_days",
            "care",
            _l("Délai moyen de traitement des factures"),
            _l("De la soumission à la validation, en jours, pour les bordereaux validés pendant la période."),
            DAYS,
            "invoices_processing_hours",
            "invoices_validated",
            divisor=24,
        ),
    )
}

#: The headline figures of a dashboard, with a 12-month trend each.
HEADLINE = (
    "beneficiaries_active",
    "adherents_new",
    "collection_rate",
    "payments_received",
    "arrears",
    "complaints_overdue",
    "satisfaction_rate",
    "care_amount_accepted",
    "contributions_benefits_ratio",
    "processing_days",
)
#: The columns of the children comparison.
COMPARISON = (
    "beneficiaries_active",
    "coverage_rate",
    "collection_rate",
    "arrears",
    "complaints_overdue",
    "contributions_benefits_ratio",
)


def aggregate(monthly: dict[object, dict[str, int]], months: list[object]) -> dict[str, int]:
    """Sum flows over ``months`` and take stocks at the last of them (months without rows count as 0)."""
    total: dict[str, int] = {}
    last = months[-1] if months else None
    for code, measure in MEASURES.items():
        if measure.kind == STOCK:
            total[code] = monthly.get(last, {}).get(code, 0)
        else:
            total[code] = sum(monthly.get(month, {}).get(code, 0) for month in months)
    return total
