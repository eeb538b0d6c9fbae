"""TOTP and recovery codes on the real database: single use, parallel submissions, lockout, encryption."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent
from app.audit.services import record_event
from app.extensions import db
from app.security import mfa
from app.security.actor import Actor
from app.security.crypto import DecryptionError, decrypt
from app.security.models import Account, RecoveryCode, TotpCredential
from tests.app.security.conftest import T0, at


def _account(session, enrolled) -> Account:
    return session.get(Account, enrolled.account_id)


def _credential(session, account_id) -> TotpCredential:
    session.rollback()  # see what is committed, as another request would
    return session.scalar(select(TotpCredential).where(TotpCredential.account_id == account_id))


def _wrong_code(secret, when):
    valid = {pyotp.TOTP(secret).at(when, counter_offset=k) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _actions(session, public_id):
    session.rollback()
    return session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_id == public_id).order_by(AuditEvent.id)
    ).all()


def test_enrolment_shows_a_qr_code_and_confirming_returns_ten_recovery_codes(session, new_account):
    account = new_account()
    enrolment = mfa.start_enrolment(session, account)
    assert enrolment.qr_svg_data_uri.startswith("data:image/svg+xml")
    assert enrolment.provisioning_uri.startswith("otpauth://totp/Mbolo:")
    assert "issuer=Mbolo" in enrolment.provisioning_uri and len(enrolment.secret_b32) == 32
    assert not account.has_mfa
    session.commit()
    actor = Actor(account_id=account.id, label=account.email)
    with pytest.raises(mfa.SecondFactorRefused):
        mfa.confirm_enrolment(session, actor, account, _wrong_code(enrolment.secret_b32, T0), now=T0)
    codes = mfa.confirm_enrolment(session, actor, account, pyotp.TOTP(enrolment.secret_b32).at(T0), now=T0)
    session.commit()
    assert len(codes) == 10 == len(set(codes)) == mfa.remaining_recovery_codes(session, account)
    assert all(re.fullmatch(r"[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}", c) for c in codes)
    stored = session.scalars(
        select(RecoveryCode.code_hash).where(RecoveryCode.account_id == account.id)
    ).all()
    assert not {c.replace("-", "") for c in codes} & set(stored)  # hashes only
    assert session.get(Account, account.id).has_mfa and mfa.current_enrolment(session, account) is None
    assert "security.mfa_enrolled" in _actions(session, account.public_id)


def test_a_confirmed_factor_is_not_replaced_by_a_new_enrolment_but_can_be_reset(session, enrolled):
    account = _account(session, enrolled)
    with pytest.raises(mfa.AlreadyEnrolled):
        mfa.start_enrolment(session, account)
    mfa.reset_mfa(session, enrolled.actor(), account)
    session.commit()
    assert _credential(session, enrolled.account_id) is None
    assert mfa.remaining_recovery_codes(session, account) == 0
    assert not session.get(Account, enrolled.account_id).has_mfa
    assert mfa.start_enrolment(session, _account(session, enrolled)).secret_b32 != enrolled.secret
    assert "security.mfa_reset" in _actions(session, enrolled.public_id)


def test_an_unconfirmed_enrolment_is_replaced_by_a_new_one(session, new_account):
    account = new_account()
    first = mfa.start_enrolment(session, account)
    second = mfa.start_enrolment(session, account)
    session.commit()
    assert first.secret_b32 != second.secret_b32
    shown_again = mfa.current_enrolment(session, account)  # after a wrong code: the same QR code again
    assert shown_again is not None and shown_again.secret_b32 == second.secret_b32
    with pytest.raises(mfa.SecondFactorRefused):  # the first QR code no longer works
        mfa.confirm_enrolment(session, Actor(account.id, "x"), account, pyotp.TOTP(first.secret_b32).at(T0))


def test_the_secret_is_stored_encrypted_and_bound_to_its_account(session, enrolled, new_account):
    ciphertext = _credential(session, enrolled.account_id).secret_ciphertext
    assert enrolled.secret not in ciphertext and enrolled.secret.lower() not in ciphertext.lower()
    assert decrypt(ciphertext, aad=f"totp:{enrolled.public_id}".encode()).decode() == enrolled.secret
    other = new_account()
    with pytest.raises(DecryptionError):
        decrypt(ciphertext, aad=f"totp:{other.public_id}".encode())


def test_a_code_passes_once_only(session, enrolled):
    account, actor, when = _account(session, enrolled), enrolled.actor(), at(10)
    assert mfa.verify_second_factor(session, actor, account, enrolled.code(when), now=when) == "totp"
    session.commit()
    with pytest.raises(mfa.SecondFactorRefused, match="déjà servi"):
        mfa.verify_second_factor(session, actor, account, enrolled.code(when), now=when)
    session.rollback()
    later = at(11)
    code = enrolled.code(later)
    assert mfa.verify_second_factor(session, actor, account, f"{code[:3]} {code[3:]}", now=later) == "totp"
    session.commit()
    assert "security.stepup_passed" in _actions(session, enrolled.public_id)


def test_an_older_step_is_refused_after_a_newer_one_was_used(session, enrolled):
    account, actor, when = _account(session, enrolled), enrolled.actor(), at(20)
    next_step = pyotp.TOTP(enrolled.secret).at(when, counter_offset=1)  # a phone 30 s ahead
    assert mfa.verify_second_factor(session, actor, account, next_step, now=when) == "totp"
    session.commit()
    for older in (enrolled.code(when), pyotp.TOTP(enrolled.secret).at(when, counter_offset=-1)):
        with pytest.raises(mfa.SecondFactorRefused):
            mfa.verify_second_factor(session, actor, account, older, now=when)
        session.rollback()
    with pytest.raises(mfa.SecondFactorRefused):  # outside the window of one step either way
        mfa.verify_second_factor(session, actor, account, enrolled.code(at(25)), now=at(22))


def test_two_parallel_submissions_of_one_code_exactly_one_passes(app, session, enrolled):
    when = at(30)
    code = enrolled.code(when)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def submit() -> None:
        with app.app_context(), Session(db.engine) as own:
            account = own.get(Account, enrolled.account_id)
            barrier.wait()
            try:
                outcomes.append(mfa.verify_second_factor(own, enrolled.actor(), account, code, now=when))
                time.sleep(0.3)  # hold the claimed row: the other UPDATE waits, then sees the step taken
                own.commit()
            except mfa.SecondFactorRefused:
                own.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["refused", "totp"]
    assert _credential(session, enrolled.account_id).last_used_step == pyotp.TOTP(enrolled.secret).timecode(
        int(when.timestamp())
    )


def test_five_wrong_codes_lock_the_factor_until_the_lock_passes(session, enrolled):
    account, actor, when = _account(session, enrolled), enrolled.actor(), at(40)
    wrong = _wrong_code(enrolled.secret, when)
    for attempt in range(1, mfa.MAX_FAILED_ATTEMPTS):
        with pytest.raises(mfa.SecondFactorRefused) as refused:
            mfa.verify_second_factor(session, actor, account, wrong, now=when)
        assert not isinstance(refused.value, mfa.SecondFactorLocked)
        session.rollback()  # the request fails: the count must survive the rollback
        assert _credential(session, enrolled.account_id).failed_attempts == attempt
    with pytest.raises(mfa.SecondFactorLocked) as locked:
        mfa.verify_second_factor(session, actor, account, wrong, now=when)
    session.rollback()
    assert locked.value.until == when + dt.timedelta(minutes=mfa.LOCK_MINUTES)
    assert "15 minute" in str(locked.value.message)
    with pytest.raises(mfa.SecondFactorLocked):  # the right code too, while locked
        mfa.verify_second_factor(session, actor, account, enrolled.code(at(41)), now=at(41))
    session.rollback()
    with pytest.raises(mfa.SecondFactorLocked):  # a recovery code too
        mfa.verify_second_factor(session, actor, account, enrolled.recovery_codes[0], now=at(41))
    session.rollback()
    credential = _credential(session, enrolled.account_id)
    credential.locked_until = at(41) - dt.timedelta(seconds=1)  # the lock has passed
    session.commit()
    assert mfa.verify_second_factor(session, actor, account, enrolled.code(at(41)), now=at(41)) == "totp"
    session.commit()
    after = _credential(session, enrolled.account_id)
    assert (after.failed_attempts, after.locked_until) == (0, None)
    actions = _actions(session, enrolled.public_id)
    assert actions.count("security.stepup_failed") == 7 and actions.count("security.stepup_locked") == 1


def test_a_failure_after_the_lock_passes_locks_again_at_once(session, enrolled):
    account, actor, when = _account(session, enrolled), enrolled.actor(), at(50)
    credential = _credential(session, enrolled.account_id)
    credential.failed_attempts, credential.locked_until = mfa.MAX_FAILED_ATTEMPTS, when
    session.commit()
    with pytest.raises(mfa.SecondFactorLocked):
        mfa.verify_second_factor(session, actor, account, _wrong_code(enrolled.secret, when), now=when)
    session.rollback()
    assert _credential(session, enrolled.account_id).failed_attempts == mfa.MAX_FAILED_ATTEMPTS + 1


def test_a_recovery_code_works_once_only(session, enrolled):
    account, actor, when = _account(session, enrolled), enrolled.actor(), at(60)
    first, second = enrolled.recovery_codes[:2]
    assert mfa.verify_second_factor(session, actor, account, first, now=when) == "recovery"
    session.commit()
    with pytest.raises(mfa.SecondFactorRefused):
        mfa.verify_second_factor(session, actor, account, first, now=when)
    session.rollback()
    typed = second.replace("-", " ").upper().replace("0", "O").replace("1", "L")  # read back from paper
    assert mfa.verify_second_factor(session, actor, account, typed, now=when) == "recovery"
    session.commit()
    assert mfa.remaining_recovery_codes(session, account) == 8
    actions = _actions(session, enrolled.public_id)
    assert actions.count("security.recovery_code_used") == 2 and "security.stepup_failed" in actions


def test_new_recovery_codes_replace_the_old_ones(session, enrolled):
    account, actor = _account(session, enrolled), enrolled.actor()
    fresh = mfa.regenerate_recovery_codes(session, actor, account)
    session.commit()
    assert len(fresh) == 10 and not set(fresh) & set(enrolled.recovery_codes)
    with pytest.raises(mfa.SecondFactorRefused):
        mfa.verify_second_factor(session, actor, account, enrolled.recovery_codes[0], now=at(70))
    session.rollback()
    assert mfa.verify_second_factor(session, actor, account, fresh[0], now=at(70)) == "recovery"


def test_an_account_without_a_confirmed_factor_cannot_verify(session, new_account):
    account = new_account()
    with pytest.raises(mfa.NotEnrolled):
        mfa.verify_second_factor(session, Actor(account.id, "x"), account, "123456")
    mfa.start_enrolment(session, account)
    with pytest.raises(mfa.NotEnrolled):
        mfa.verify_second_factor(session, Actor(account.id, "x"), account, "123456")
    with pytest.raises(mfa.NotEnrolled):
        mfa.regenerate_recovery_codes(session, Actor(account.id, "x"), account)


def test_a_failure_after_other_audited_writes_is_kept_in_the_callers_transaction(session, enrolled):
    """The caller already holds the audit chain's lock: no separate transaction (it would wait forever)."""
    account, actor, when = _account(session, enrolled), enrolled.actor(), at(80)
    record_event(session, actor, "security.test_marker", target_type="account", target_id=enrolled.public_id)
    session.flush()
    started = time.monotonic()
    with pytest.raises(mfa.SecondFactorRefused):
        mfa.verify_second_factor(session, actor, account, _wrong_code(enrolled.secret, when), now=when)
    assert time.monotonic() - started < 2
    session.commit()  # as the views do after a refusal
    assert _credential(session, enrolled.account_id).failed_attempts == 1
    assert _actions(session, enrolled.public_id)[-2:] == ["security.test_marker", "security.stepup_failed"]
