"""Slug normalization: examples from the spec and properties over any Unicode name."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane import errors
from hostplane.tenancy import slugs

LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("ClinicIQ", "cliniciq"),
        ("Café Olé", "cafe-ole"),
        ("Dr. Smith Clinic", "dr-smith-clinic"),
        ("Summer Lead Magnet", "summer-lead-magnet"),
        ("  --Downtown   Dental--  ", "downtown-dental"),
        ("Straße & Söhne", "strasse-sohne"),
        ("Lead Magnet", "lead-magnet"),
    ],
)
def test_spec_examples(name: str, slug: str) -> None:
    assert slugs.normalize(name) == slug


@given(st.text())
def test_normalize_gives_a_dns_label_or_nothing(name: str) -> None:
    slug = slugs.normalize(name)
    assert slug == "" or LABEL.match(slug)
    assert len(slug) <= 63
    assert "--" not in slug


@given(st.text())
def test_normalize_is_idempotent(name: str) -> None:
    once = slugs.normalize(name)
    assert slugs.normalize(once) == once


@given(st.text(min_size=1))
def test_organization_slug_is_never_reserved_or_temporary(name: str) -> None:
    try:
        slug = slugs.organization_slug(name)
    except errors.Invalid as exc:
        assert exc.details["field"] == "name"
        assert exc.details["rule"] and exc.details["fix"]
        return
    assert slug not in slugs.RESERVED_SLUGS
    assert not slugs.is_temporary(slug)
    assert LABEL.match(slug)


def test_long_names_are_cut_to_63_without_trailing_hyphen() -> None:
    slug = slugs.normalize("a" * 62 + " b")
    assert len(slug) <= 63 and not slug.endswith("-")
    assert slugs.normalize("x" * 100) == "x" * 63


def test_temporary_slugs_have_the_documented_shape() -> None:
    made = {slugs.temporary_slug() for _ in range(200)}
    assert all(re.fullmatch(r"org-[a-z0-9]{8}", s) for s in made)
    assert len(made) == 200


@pytest.mark.parametrize("name", ["", "!!!", "   ", "---"])
def test_names_without_letters_or_digits_are_refused(name: str) -> None:
    with pytest.raises(errors.Invalid):
        slugs.organization_slug(name)


@pytest.mark.parametrize("name", ["API", "www", "Admin", "Sandbox", "Proxy", "Docs", "org-abcd1234"])
def test_reserved_words_are_refused(name: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        slugs.organization_slug(name)
    assert caught.value.code == "SLUG_RESERVED"


@pytest.mark.parametrize(("value", "ok"), [("dr-smith", True), ("Dr-Smith", False), ("-x", False),
                                           ("a--b", False), ("", False), ("a" * 64, False)])
def test_explicit_slugs_must_already_be_normalized(value: str, ok: bool) -> None:
    if ok:
        assert slugs.label_slug(value, field="slug") == value
    else:
        with pytest.raises(errors.Invalid):
            slugs.label_slug(value, field="slug")
