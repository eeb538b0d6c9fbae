import pytest

from app.errors import FieldError
from tenants.slugs import owner_role_name, schema_name, validate_slug


@pytest.mark.parametrize("slug", ["artisanat", "ab", "transport_2", "a" * 30, "123"])
def test_validate_slug_accepts_lowercase_digits_underscore(slug):
    assert validate_slug(slug) == slug


@pytest.mark.parametrize(
    "slug",
    [
        "a;drop schema public",
        "a'; drop table x; --",
        'a"b',
        "artisanaté",
        "ARTISANAT",
        "a",
        "a" * 31,
        "a-b",
        "a b",
        "",
        "ｆｕｌｌｗｉｄｔｈ",
        "public",
        "admin",
        "pg_toast",
        "a\nb",
    ],
)
def test_validate_slug_refuses_injection_unicode_reserved_and_bad_length(slug):
    with pytest.raises(FieldError) as refused:
        validate_slug(slug)
    assert refused.value.field == "slug"


def test_schema_and_role_names_come_only_from_a_valid_slug():
    assert schema_name("commerce") == "t_commerce"
    assert owner_role_name("mbolo", "commerce") == "mbolo_t_commerce"
    with pytest.raises(FieldError):
        schema_name('x"; drop schema public; --')
