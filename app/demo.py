"""``mbolo demo``: a small, realistic platform to look at; running it twice changes nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass

from flask import Flask

from app.extensions import db
from app.platform import owner_engine
from app.security.actor import Actor
from app.security.services import ensure_account
from hierarchy import services as hierarchy
from hierarchy.services import NodeDetails
from tenants import services as tenants

DEMO_PASSWORD_DEFAULT = "mbolo-demo-2026"  # noqa: S105 - demo accounts only, printed by `make run`

#: (code, name, region, children)
TREE = (
    (
        "FED-ART",
        "Fédération nationale des artisans du Sénégal",
        "Dakar",
        (
            (
                "LIG-ART-DK",
                "Ligue des artisans de Dakar",
                "Dakar",
                (
                    ("ASS-ART-MEDINA", "Association des artisans de la Médina", "Dakar"),
                    ("ASS-ART-PIKINE", "Association des tailleurs de Pikine", "Dakar"),
                ),
            ),
            (
                "LIG-ART-TH",
                "Ligue des artisans de Thiès",
                "Thiès",
                (("ASS-ART-TIVAOUANE", "Association des cordonniers de Tivaouane", "Thiès"),),
            ),
        ),
    ),
    (
        "FED-COM",
        "Fédération nationale des commerçants du Sénégal",
        "Dakar",
        (
            (
                "LIG-COM-DK",
                "Ligue des commerçants de Dakar",
                "Dakar",
                (("ASS-COM-SANDAGA", "Association des commerçants de Sandaga", "Dakar"),),
            ),
            ("LIG-COM-KL", "Ligue des commerçants de Kaolack", "Kaolack", ()),
        ),
    ),
    ("FED-TRA", "Fédération nationale des transporteurs routiers", "Dakar", ()),
)
TENANTS = (
    ("artisanat", "Mutuelle sociale nationale des artisans du Sénégal", "artisanat", "FED-ART"),
    ("commerce", "Mutuelle sociale des commerçants du Sénégal", "commerce", "FED-COM"),
)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str


def demo_password() -> str:
    return os.environ.get("MBOLO_DEMO_PASSWORD") or DEMO_PASSWORD_DEFAULT


def load_demo(app: Flask) -> list[DemoLogin]:
    """Create what is missing of the demo hierarchy, tenants and accounts."""
    actor = Actor.system("demo")
    session = db.session
    ministry = hierarchy.find_node_by_code(session, "MIN-SANTE") or hierarchy.create_root(
        session,
        actor,
        code="MIN-SANTE",
        details=NodeDetails(name="Ministère de la Santé et de l'Action sociale", region="Dakar"),
    )

    def ensure(parent: object, code: str, name: str, region: str) -> object:
        return hierarchy.find_node_by_code(session, code) or hierarchy.create_child(
            session, actor, parent=parent, code=code, details=NodeDetails(name=name, region=region)
        )

    for code, name, region, leagues in TREE:
        federation = ensure(ministry, code, name, region)
        for lcode, lname, lregion, associations in leagues:
            league = ensure(federation, lcode, lname, lregion)
            for acode, aname, aregion in associations:
                ensure(league, acode, aname, aregion)
    session.commit()

    for slug, name, sector, federation_code in TENANTS:
        if tenants.find_tenant(session, slug) is None:
            tenants.create_tenant(
                owner_engine(app), actor, slug=slug, name=name, sector=sector, federation_code=federation_code
            )

    def node_id(code: str) -> int:
        return hierarchy.find_node_by_code(session, code).id  # type: ignore[union-attr]

    password = demo_password()
    accounts = (
        ("admin@mbolo.sn", "Aïssatou Diop", True, (), "Administrateur plateforme (ministère)"),
        (
            "superviseur.artisanat@mbolo.sn",
            "Moussa Ndiaye",
            False,
            ((node_id("FED-ART"), "supervisor"),),
            "Superviseur, fédération des artisans",
        ),
        (
            "gestionnaire.commerce@mbolo.sn",
            "Fatou Sarr",
            False,
            ((node_id("FED-COM"), "mutual_manager"),),
            "Gestionnaire, mutuelle des commerçants",
        ),
        (
            "agent.medina@mbolo.sn",
            "Ibrahima Fall",
            False,
            ((node_id("ASS-ART-MEDINA"), "association_agent"),),
            "Agent, association de la Médina",
        ),
    )
    logins = []
    for email, full_name, is_admin, grants, role in accounts:
        ensure_account(
            session,
            actor,
            email=email,
            full_name=full_name,
            password=password,
            is_platform_admin=is_admin,
            grants=grants,
        )
        logins.append(DemoLogin(email, role))
    session.commit()
    _demo_members(session)
    from app.care.demo import generate_all as care_providers  # after contributions: needs the catalogue

    logins += care_providers(session)
    from app.care.claims_demo import generate_all as care_claims  # invoices on the providers' conventions

    care_claims(session)
    from hierarchy.supervision.demo import load as supervision  # last: snapshots of everything above

    logins += supervision(session, password)  # type: ignore[arg-type]
    return logins


#: Households generated per association (about 2.5 people each).
DEMO_HOUSEHOLDS = int(os.environ.get("MBOLO_DEMO_HOUSEHOLDS", "120"))


def _demo_members(session: object) -> None:
    from app.members.demo import generate
    from hierarchy.models import Node, NodeKind
    from tenants.context import TenantRef

    for slug, _name, sector, federation_code in TENANTS:
        tenant = tenants.find_tenant(session, slug)
        federation = hierarchy.find_node_by_code(session, federation_code)
        associations = [
            (n.id, n.region or "Dakar")
            for n in session.query(Node).filter(  # type: ignore[attr-defined]
                Node.kind == NodeKind.association, Node.path.startswith(federation.path)
            )
        ]
        generate(session, TenantRef.of(tenant), sector=sector, associations=associations,
                 per_association=DEMO_HOUSEHOLDS)  # type: ignore[arg-type]  # fmt: skip
        from app.contributions.demo import generate as contributions

        contributions(session, TenantRef.of(tenant))  # type: ignore[arg-type]
        from app.complaints.demo import generate as complaints

        complaints(session, TenantRef.of(tenant))  # type: ignore[arg-type]
