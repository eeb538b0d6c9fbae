"""Throwaway accounts (a unique e-mail each), committed: the second factor commits failures aside."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pyotp
import pytest
from sqlalchemy.orm import Session

from app.security import mfa
from app.security.actor import Actor
from app.security.models import Account

#: A fixed instant: codes are generated for known time steps, never for the wall clock.
T0 = dt.datetime(2030, 1, 7, 9, 0, 0, tzinfo=dt.UTC)


def at(steps: int, base: dt.datetime = T0) -> dt.datetime:
    """``steps`` TOTP steps (30 s) after ``base``."""
    return base + dt.timedelta(seconds=30 * steps)


@dataclass(frozen=True)
class Enrolled:
    account_id: int
    public_id: str
    email: str
    secret: str
    recovery_codes: list[str]

    def code(self, when: dt.datetime) -> str:
        return pyotp.TOTP(self.secret).at(when)

    def actor(self) -> Actor:
        return Actor(account_id=self.account_id, label=self.email, ip_address="192.0.2.10")


@pytest.fixture
def new_account(session: Session) -> Callable[[], Account]:
    def make(full_name: str = "Awa Ndiaye") -> Account:
        account = Account(email=f"mfa-{uuid.uuid4().hex[:10]}@test.sn", full_name=full_name)
        session.add(account)
        session.commit()
        return account

    return make


@pytest.fixture
def enrolled(session: Session, new_account: Callable[[], Account]) -> Enrolled:
    """An account whose TOTP was confirmed with the code of step T0 (committed)."""
    account = new_account()
    enrolment = mfa.start_enrolment(session, account)
    session.commit()
    actor = Actor(account_id=account.id, label=account.email or "")
    codes = mfa.confirm_enrolment(session, actor, account, pyotp.TOTP(enrolment.secret_b32).at(T0), now=T0)
    session.commit()
    return Enrolled(account.id, account.public_id, account.email or "", enrolment.secret_b32, codes)
