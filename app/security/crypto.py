"""Authenticated encryption of secrets stored in the database (TOTP secrets, later payment credentials).

AES-256-GCM with a fresh random 96-bit nonce per call, so one secret encrypts differently every time (unlike
sqlalchemy-utils' deterministic AesEngine, which leaks equal values). A token is self-describing:
``"<key id>:<base64url(nonce + ciphertext + tag)>"``, so keys can be rotated: the first key of
``MBOLO_ENCRYPTION_KEYS`` encrypts, every configured key decrypts, and ``mbolo keys rotate`` re-encrypts
what an older key protects. The associated data (``aad``) binds a ciphertext to its owner and purpose
(e.g. ``b"totp:<account public id>"``): copied onto another row, it no longer decrypts.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

#: ((key id, 32-byte key), …); the first one is current (encrypts), all of them decrypt.
Keyring = Sequence[tuple[str, bytes]]

NONCE_BYTES = 12
KEY_BYTES = 32
_TAG_BYTES = 16


class DecryptionError(ValueError):
    """A token that does not decrypt: unknown key id, wrong associated data, tampered or malformed."""


def new_key() -> str:
    """A fresh random AES-256 key in unpadded urlsafe base64, the format of MBOLO_ENCRYPTION_KEYS."""
    return secrets.token_urlsafe(KEY_BYTES)


def _keyring(keys: Keyring | None) -> Keyring:
    ring = keys if keys is not None else current_app.config["MBOLO_ENCRYPTION_KEYS"]
    if not ring:
        raise RuntimeError("MBOLO_ENCRYPTION_KEYS is empty: no key to encrypt or decrypt with")
    for kid, key in ring:
        if not kid or ":" in kid or len(key) != KEY_BYTES:
            raise RuntimeError(f"MBOLO_ENCRYPTION_KEYS: key {kid!r} must have a plain id and 32 bytes")
    return ring


def current_key_id(keys: Keyring | None = None) -> str:
    return _keyring(keys)[0][0]


def key_id_of(token: str) -> str:
    """The id of the key a token was encrypted with (no decryption)."""
    kid, sep, _payload = token.partition(":")
    if not sep or not kid:
        raise DecryptionError("malformed encrypted value (expected '<key id>:<data>')")
    return kid


def encrypt(plaintext: bytes, *, aad: bytes, keys: Keyring | None = None) -> str:
    """Encrypt under the current key with a random nonce; ``aad`` must be given again to decrypt."""
    kid, key = _keyring(keys)[0]
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, aad)
    return f"{kid}:{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode('ascii')}"


def decrypt(token: str, *, aad: bytes, keys: Keyring | None = None) -> bytes:
    """The plaintext of ``token``, with whichever configured key its id names."""
    kid = key_id_of(token)
    key = dict(_keyring(keys)).get(kid)
    if key is None:
        raise DecryptionError(f"encrypted with key {kid!r}, which is not in MBOLO_ENCRYPTION_KEYS")
    encoded = token[len(kid) + 1 :]
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as error:
        raise DecryptionError("malformed encrypted value (bad base64)") from error
    if len(raw) < NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError("malformed encrypted value (too short)")
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except InvalidTag as error:
        raise DecryptionError("the value was altered or belongs elsewhere (authentication failed)") from error


def needs_rotation(token: str, keys: Keyring | None = None) -> bool:
    """True if ``token`` is not under the current key (``mbolo keys rotate`` re-encrypts it)."""
    return key_id_of(token) != current_key_id(keys)


def reencrypt(token: str, *, aad: bytes, keys: Keyring | None = None) -> str:
    """``token`` under the current key (same plaintext, same associated data, fresh nonce)."""
    return encrypt(decrypt(token, aad=aad, keys=keys), aad=aad, keys=keys)
