"""AES-GCM keyring: random nonces, associated data, tampering, unknown keys, rotation (and its command)."""

from __future__ import annotations

import base64
import os
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.config import parse_keyring
from app.security import crypto
from app.security.crypto import DecryptionError, decrypt, encrypt, needs_rotation, reencrypt
from app.security.models import Account, TotpCredential

OLD = ("k1", os.urandom(32))
NEW = ("k2", os.urandom(32))


def test_round_trip_with_a_fresh_nonce_each_time():
    first = encrypt(b"JBSWY3DPEHPK3PXP", aad=b"totp:abc", keys=[OLD])
    second = encrypt(b"JBSWY3DPEHPK3PXP", aad=b"totp:abc", keys=[OLD])
    assert first != second  # not deterministic: equal secrets do not show as equal ciphertexts
    assert first.startswith("k1:") and "JBSWY3DP" not in first
    assert decrypt(first, aad=b"totp:abc", keys=[OLD]) == decrypt(second, aad=b"totp:abc", keys=[OLD])
    assert decrypt(first, aad=b"totp:abc", keys=[OLD]) == b"JBSWY3DPEHPK3PXP"


def test_wrong_associated_data_is_refused():
    token = encrypt(b"secret", aad=b"totp:account-a", keys=[OLD])
    with pytest.raises(DecryptionError):
        decrypt(token, aad=b"totp:account-b", keys=[OLD])


def test_tampered_or_malformed_tokens_are_refused():
    token = encrypt(b"secret", aad=b"x", keys=[OLD])
    kid, payload = token.split(":")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw[-1] ^= 1  # one bit of the tag
    flipped = f"{kid}:{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"
    for bad in (flipped, token[:-8], "k1:", "k1:!!!", "no-key-id", ""):
        with pytest.raises(DecryptionError):
            decrypt(bad, aad=b"x", keys=[OLD])


def test_unknown_key_id_is_refused_with_a_clear_message():
    token = encrypt(b"secret", aad=b"x", keys=[NEW])
    with pytest.raises(DecryptionError, match="k2"):
        decrypt(token, aad=b"x", keys=[OLD])


def test_rotation_re_encrypts_under_the_new_key_and_old_tokens_still_decrypt():
    old_token = encrypt(b"secret", aad=b"x", keys=[OLD])
    ring = [NEW, OLD]  # the new key first: it encrypts; the old one still decrypts
    assert needs_rotation(old_token, ring) and not needs_rotation(old_token, [OLD])
    assert decrypt(old_token, aad=b"x", keys=ring) == b"secret"
    rotated = reencrypt(old_token, aad=b"x", keys=ring)
    assert rotated.startswith("k2:") and not needs_rotation(rotated, ring)
    assert decrypt(rotated, aad=b"x", keys=[NEW]) == b"secret"
    with pytest.raises(DecryptionError):
        reencrypt(old_token, aad=b"y", keys=ring)


def test_default_keys_come_from_the_configuration(app):
    with app.app_context():
        token = encrypt(b"secret", aad=b"x")
        assert token.startswith(f"{app.config['MBOLO_ENCRYPTION_KEYS'][0][0]}:")
        assert decrypt(token, aad=b"x") == b"secret"


def test_keys_new_prints_a_key_the_configuration_accepts():
    result = CliRunner().invoke(main, ["keys", "new"])
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    assert parse_keyring(f"k3={key}")[0][1] != parse_keyring(f"k3={crypto.new_key()}")[0][1]
    assert len(parse_keyring(f"k3={key}")[0][1]) == 32


def _ciphertext(session, account_id):
    session.rollback()  # read what is committed
    return session.scalar(
        select(TotpCredential.secret_ciphertext).where(TotpCredential.account_id == account_id)
    )


def test_keys_rotate_re_encrypts_stored_totp_secrets(app, session, enrolled, monkeypatch):
    configured = tuple(app.config["MBOLO_ENCRYPTION_KEYS"])
    monkeypatch.setattr("app.cli._app", lambda: app)
    aad = f"totp:{enrolled.public_id}".encode()
    before = _ciphertext(session, enrolled.account_id)
    assert not before.startswith("k2:")
    monkeypatch.setitem(app.config, "MBOLO_ENCRYPTION_KEYS", (NEW, *configured))
    try:
        result = CliRunner().invoke(main, ["keys", "rotate"])
        assert result.exit_code == 0, result.output
        rotated = re.search(r"under key k2: (\d+) TOTP secrets, (\d+) card signing keys", result.output)
        assert rotated and int(rotated.group(1)) >= 1, result.output
        after = _ciphertext(session, enrolled.account_id)
        assert after.startswith("k2:")
        assert decrypt(after, aad=aad) == decrypt(before, aad=aad) == enrolled.secret.encode()
        again = CliRunner().invoke(main, ["keys", "rotate"])
        assert "k2: 0 TOTP secrets, 0 card signing keys" in again.output  # nothing left under an old key
    finally:  # back under the configured key, so the rest of the suite reads its secrets
        monkeypatch.setitem(app.config, "MBOLO_ENCRYPTION_KEYS", (*configured, NEW))
        back = CliRunner().invoke(main, ["keys", "rotate"])
        monkeypatch.setitem(app.config, "MBOLO_ENCRYPTION_KEYS", configured)
    assert back.exit_code == 0, back.output
    assert _ciphertext(session, enrolled.account_id).startswith(f"{configured[0][0]}:")


def test_keys_rotate_changes_nothing_when_a_secret_cannot_be_decrypted(
    app, session, new_account, monkeypatch
):
    monkeypatch.setattr("app.cli._app", lambda: app)
    account = new_account()
    session.add(
        TotpCredential(account_id=account.id, secret_ciphertext="gone:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    )
    session.commit()
    try:
        result = CliRunner().invoke(main, ["keys", "rotate"])
        assert result.exit_code == 1
        assert "nothing changed" in result.output and account.public_id in result.output
    finally:
        session.delete(session.scalar(select(TotpCredential).where(TotpCredential.account_id == account.id)))
        session.commit()
    assert session.get(Account, account.id) is not None
