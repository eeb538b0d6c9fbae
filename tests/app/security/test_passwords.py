"""NIST SP 800-63B policy: long passphrases pass; short, common, personal and trivial passwords do not."""

from __future__ import annotations

import unicodedata

import pytest

from app.errors import FieldError
from app.security.passwords import MAX_LENGTH, check_password, common_passwords, normalise

PERSON = {"email": "fatou.diop@mutuelle.sn", "full_name": "Fatou Diop"}


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "Ma mutuelle de Thiès 2025",
        "ngor yoff ouakam",  # lowercase only, spaces: no composition rule
        "جمعية التعاون الصحي",  # any script
        "x7#Qm!2vLp",
        "a" * 3 + "bcdefg" + "b" * 100,  # long is fine, up to the maximum
    ],
)
def test_accepts_passphrases_without_composition_rules(password):
    check_password(password, **PERSON)


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("court", "au moins 10"),
        ("x" * (MAX_LENGTH + 1), "dépasser 128"),
        ("password123", "trop courant"),
        ("azertyuiop", "trop courant"),
        ("AZERTYUIOP", "trop courant"),  # case-insensitive
        ("Azertyuiop2024!", "trop courant"),  # a common word with a predictable ending
        ("pass word 123", "trop courant"),
        ("aaaaaaaaaaaa", "répétition"),
        ("ababababababab", "répétition"),
        ("qsdfghjklm", "suite"),
        ("abcdefghijklmnop", "suite"),
        ("9876543210987", "suite"),
        ("fatoudiop2025", "votre nom"),
        ("je suis FATOU, voilà", "votre nom"),
        ("mutuelle fätou diop", "votre nom"),  # accents do not hide the name
        ("bienvenue sur mbolo", "Mbolo"),
    ],
)
def test_refuses_with_a_clear_message_on_the_password_field(password, fragment):
    with pytest.raises(FieldError) as refused:
        check_password(password, **PERSON)
    assert refused.value.field == "password"
    assert fragment in str(refused.value.message)


def test_refuses_the_e_mail_local_part():
    with pytest.raises(FieldError, match="adresse e-mail"):
        check_password("agent.kaolack: bonjour", email="agent.kaolack@test.sn", full_name="A B")


def test_short_name_parts_are_not_refused():
    check_password("ba sy et les autres amis", email="ba@test.sn", full_name="Awa Ba Sy")


def test_length_and_list_apply_to_the_nfkc_form():
    decomposed = unicodedata.normalize("NFD", "Thiès Thiès Thiès")
    assert normalise(decomposed) == unicodedata.normalize("NFC", "Thiès Thiès Thiès")
    assert normalise("ｐａｓｓｗｏｒｄ１２３") == "password123"
    with pytest.raises(FieldError, match="trop courant"):
        check_password("ｐａｓｓｗｏｒｄ１２３")


def test_the_bundled_list_is_loaded_once():
    assert common_passwords() is common_passwords()
    assert len(common_passwords()) > 19_000 and "motdepasse" in common_passwords()
