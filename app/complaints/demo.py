"""Demo complaints: a few dozen per mutual over the last two months, in every state (new, late, escalated to
the ligue and to the fédération, assigned, answered, closed and rated, reopened), filed from the portal and
at the counter, through the real services so timelines, audit and messages are all there."""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.complaints import services
from app.complaints.models import Complaint
from app.database import utcnow
from app.members.models import Member, MemberStatus
from app.security.actor import Actor
from tenants.context import TenantRef, tenant_scope

COUNT = 36
TEXTS = {
    "refused_care": (
        "Le centre de santé a refusé ma carte de mutualiste alors que mes cotisations sont à jour.",
        "La pharmacie ne voulait pas appliquer la prise en charge sur l'ordonnance de mon enfant.",
        "À l'hôpital régional, on m'a demandé de tout payer : la mutuelle ne serait pas reconnue.",
    ),
    "reimbursement": (
        "J'ai avancé les frais d'une radio il y a un mois et je n'ai toujours pas été remboursé.",
        "Le remboursement reçu est plus faible que ce qui était prévu pour la consultation.",
    ),
    "reception": (
        "Trois heures d'attente au guichet de l'association sans aucune information.",
        "L'agent au guichet m'a mal parlé quand je suis venu demander ma carte.",
    ),
    "contribution": (
        "Mon paiement Wave de la cotisation n'apparaît pas sur mon compte.",
        "On me réclame une cotisation de mars que j'ai déjà payée en espèces, reçu à l'appui.",
    ),
    "other": ("Je n'ai pas reçu ma nouvelle carte après le changement de nom de mon épouse.",),
}
REPLIES = (
    "Nous avons appelé le prestataire : votre prise en charge est rétablie, présentez votre carte.",
    "Votre remboursement a été validé et sera versé cette semaine.",
    "Votre paiement est retrouvé et affecté à vos cotisations. Merci de votre patience.",
    "Nous avons rappelé les règles d'accueil à l'équipe du guichet. Toutes nos excuses.",
)
NOTES = ("Appeler le centre de santé pour vérifier.", "Voir le reçu papier avec le trésorier.")


#: (how far it got, age range in days): cycled, so every state and both escalation levels are there.
FATES = (
    ("received", 0.2, 1.5),  # new
    ("received", 3, 5),  # not acknowledged in 48 h: up to the ligue
    ("received", 15, 40),  # late for long: up to the fédération
    ("acknowledged", 1, 10),
    ("acknowledged", 20, 40),  # no answer in 15 days: escalated
    ("assigned", 3, 12),
    ("answered", 5, 30),
    ("closed", 2, 8),
    ("closed", 10, 50),
    ("reopened", 10, 30),
    ("rated", 10, 60),
    ("rated", 10, 60),
)
STAGES = ("received", "acknowledged", "assigned", "answered", "closed", "reopened", "rated")


def generate(session: Session, tenant: TenantRef) -> int:
    """Complaints for ``tenant`` unless it has some already; returns how many were filed."""
    rng = random.Random(f"complaints:{tenant.slug}")  # noqa: S311 - demo data
    now = utcnow()
    system = Actor.system("demo")
    with tenant_scope(session, tenant):
        if session.scalar(select(Complaint.id).limit(1)) is not None:
            return 0
        members = list(
            session.scalars(
                select(Member).where(Member.status == MemberStatus.active).order_by(Member.id).limit(400)
            )
        )
        if not members:
            return 0
        for index in range(COUNT):
            fate, low, high = FATES[index % len(FATES)]
            member = rng.choice(members)
            category = rng.choice(list(TEXTS))
            filed_at = now - dt.timedelta(days=rng.uniform(low, high))
            actor = Actor(account_id=None, label=f"adhérent {member.number}")
            channel = "portal" if index % 3 else "counter"
            complaint = services.file_complaint(
                session, tenant, system if channel == "counter" else actor, member, category=category,
                text=rng.choice(TEXTS[category]), channel=channel, now=filed_at,
            )  # fmt: skip
            _progress(session, tenant, rng, complaint, member, actor, now, STAGES.index(fate))
        session.flush()
        # Late complaints went up to the ligue some days ago; those still late since then to the fédération.
        services.escalate_overdue(session, tenant, now=now - dt.timedelta(days=6), actor=system)
        services.escalate_overdue(session, tenant, now=now, actor=system)
        session.commit()
    return COUNT


def _progress(
    session: Session, tenant: TenantRef, rng: random.Random, complaint: Complaint, member: Member,
    actor: Actor, now: dt.datetime, stage: int,
) -> None:  # fmt: skip
    """Move a complaint along as staff (and the member) would have, at plausible times before ``now``."""
    staff = Actor.system("demo")
    age = now - complaint.filed_at

    def at(fraction: float) -> dt.datetime:
        return complaint.filed_at + age * fraction

    if stage < 1:
        return
    services.acknowledge(session, tenant, staff, complaint, now=at(rng.uniform(0.01, 0.05)))
    if stage < 2:
        return
    handlers = services.handlers_for(session, services.association_of(session, complaint))
    if handlers:
        services.assign(session, tenant, staff, complaint, rng.choice(handlers).account_id, now=at(0.1))
    services.add_note(session, tenant, staff, complaint, rng.choice(NOTES), now=at(0.15))
    if stage < 3:
        return
    services.reply(session, tenant, staff, complaint, rng.choice(REPLIES), now=at(0.3))
    if stage < 4:
        return
    services.close(session, tenant, staff, complaint, now=at(0.4))
    if stage == 5 and services.can_reopen(session, complaint, at(0.5)):
        services.reopen(session, tenant, actor, member, complaint,
                        "Le problème n'est toujours pas réglé de mon côté.", now=at(0.5))  # fmt: skip
    elif stage == 6:
        comment = rng.choice(("", "Merci pour la réponse rapide.", "Un peu long mais réglé."))
        rating = rng.choice((2, 3, 4, 4, 5, 5, 5))
        services.rate(session, tenant, actor, member, complaint, rating, comment, now=at(0.6))
