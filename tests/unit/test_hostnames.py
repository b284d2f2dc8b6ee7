"""Hostname canonicalization: the test vectors of the domains research, and properties."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hostplane import errors
from hostplane.domains.hostnames import canonical_domain, is_within, unicode_name


@pytest.mark.parametrize(("given_name", "stored"), [
    ("Ëxample.com.", "xn--xample-ova.com"),
    ("ClinicIQ.dev.", "cliniciq.dev"),
    ("  program.DrSmithClinic.com ", "program.drsmithclinic.com"),
    ("straße.de", "xn--strae-oqa.de"),  # IDNA 2008 keeps ß (2003 made it "ss")
    ("bücher.example.com".replace(".example", ".shop"), "xn--bcher-kva.shop.com"),
])
def test_canonical_forms(given_name, stored):
    assert canonical_domain(given_name) == stored
    assert canonical_domain(stored) == stored


def test_unicode_is_shown_back():
    assert unicode_name("xn--xample-ova.com") == "ëxample.com"


@pytest.mark.parametrize(("bad", "code", "rule_part"), [
    ("127.0.0.1", "INVALID_DOMAIN", "IP address"),
    ("::1", "INVALID_DOMAIN", "IP address"),
    ("foo.test", "DOMAIN_RESERVED", "reserved top-level"),
    ("printer.local", "DOMAIN_RESERVED", "reserved top-level"),
    ("a.example", "DOMAIN_RESERVED", "reserved top-level"),
    ("localhost", "INVALID_DOMAIN", "two dot-separated labels"),
    ("*.cliniciq.dev", "INVALID_DOMAIN", "no wildcards"),
    ("https://x.com/path", "INVALID_DOMAIN", "without scheme"),
    ("x.com:8080", "INVALID_DOMAIN", "without scheme, port"),
    ("a" * 64 + ".com", "INVALID_DOMAIN", "1-63 characters"),
    (".".join(["a" * 60] * 5), "INVALID_DOMAIN", "253 in all"),
    ("-bad.com", "INVALID_DOMAIN", "labels"),
    ("under_score.com", "INVALID_DOMAIN", ""),
    ("1.2.3.999", "INVALID_DOMAIN", "IP address"),
])
def test_refusals_name_the_rule(bad, code, rule_part):
    with pytest.raises(errors.Invalid) as caught:
        canonical_domain(bad, field="fqdn")
    assert caught.value.code == code
    assert caught.value.details["field"] == "fqdn"
    assert rule_part in caught.value.details["rule"]


label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=20)
names = st.lists(label, min_size=2, max_size=4).map(".".join).filter(
    lambda n: not n.split(".")[-1].isdigit() and n.split(".")[-1] not in (
        "test", "invalid", "example", "localhost", "local", "onion", "internal", "alt", "arpa"))


@given(names, st.sampled_from(["", "."]), st.booleans())
def test_idempotent_and_case_and_dot_insensitive(name, dot, upper):
    typed = (name.upper() if upper else name) + dot
    stored = canonical_domain(typed)
    assert stored == name and canonical_domain(stored) == stored


@given(st.text(max_size=80))
def test_anything_is_either_a_clean_name_or_a_422(text):
    try:
        stored = canonical_domain(text)
    except errors.Invalid as exc:
        assert exc.code in ("INVALID_DOMAIN", "DOMAIN_RESERVED")
        return
    assert stored == stored.lower() and not stored.endswith(".") and len(stored) <= 253
    assert all(0 < len(part) <= 63 for part in stored.split("."))


@given(names, names)
def test_is_within(a, b):
    assert is_within(a, a)
    assert is_within(f"x.{a}", a)
    assert is_within(a, b) == (a == b or a.endswith("." + b))
