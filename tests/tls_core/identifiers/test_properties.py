"""Hypothesis properties of the canon: idempotent, and every rendering meets one value."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat

from tls_core.identifiers import imei_check_digit, normalize, normalize_value

pytestmark = pytest.mark.nojit

nanp = st.tuples(st.integers(200, 999), st.integers(200, 999), st.integers(0, 9999)).map(
    lambda t: f"{t[0]}{t[1]}{t[2]:04d}"
)


def _renderings(ten: str) -> list[str]:
    a, b, c = ten[:3], ten[3:6], ten[6:]
    return [
        ten,
        f"({a}) {b}-{c}",
        f"{a}-{b}-{c}",
        f"{a}.{b}.{c}",
        f"1{ten}",
        f"1-{a}-{b}-{c}",
        f"+1 {a} {b} {c}",
        f"+1{ten}",
        f"011 1 {a} {b} {c}",
        f"{ten}.0",
        f"  {ten}\t",
    ]


@given(nanp)
def test_every_rendering_of_a_nanp_number_meets_one_value(ten):
    values = _renderings(ten)
    table = normalize(values).to_pylist()
    assert {row["canonical"] for row in table} == {"+1" + ten}
    assert {row["kind"] for row in table} == {"phone"}
    assert all(row["status"] in ("ok", "repaired") for row in table)


@st.composite
def international(draw):
    region = draw(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)))
    number = phonenumbers.example_number(region)
    if number is None:
        number = phonenumbers.example_number("GB")
    return number


@given(international(), st.sampled_from(["US", "CA", "GB", "DE", "MX"]))
def test_every_rendering_of_an_international_number_meets_one_value(number, dialed_from):
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    idd = "011" if phonenumbers.country_code_for_region(dialed_from) == 1 else "00"
    values = [
        e164,
        phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        idd + " " + e164[1:],
        idd + e164[1:],
    ]
    results = {normalize_value(v, "phone", default_region=dialed_from)[1:3] for v in values}
    accepted = {r for r in results if r[1] != "rejected"}
    assert accepted <= {(e164, "ok")}


_IDEMPOTENT_SAMPLES = st.one_of(
    nanp,
    nanp.map(lambda t: f"({t[:3]}) {t[3:6]}-{t[6:]}"),
    st.text(alphabet="0123456789", min_size=14, max_size=16),
    st.text(alphabet="0123456789ABCDEF", min_size=8, max_size=8),
    st.text(alphabet="0123456789abcdef", min_size=14, max_size=14),
    st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(com|org|net)", fullmatch=True),
    st.ip_addresses().map(str),
    st.tuples(st.integers(1, 999), st.integers(0, 99999), st.integers(0, 99999)).map(
        lambda t: f"{t[0]}*{t[1]}*{t[2]}"
    ),
    st.sampled_from(["911", "*3334", "611", "28828"]),
)


@given(_IDEMPOTENT_SAMPLES)
def test_normalizing_a_canonical_value_returns_it(value):
    kind, canonical, status, _ = normalize_value(value)
    if canonical is None:
        return
    again = normalize_value(canonical, kind)
    assert again[:3] == (kind, canonical, "ok")


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_imei_written_any_way_meets_one_value(tac_snr):
    check = imei_check_digit(tac_snr)
    wrong = str((int(check) + 1) % 10)
    values = [tac_snr, tac_snr + check, tac_snr + wrong, tac_snr + "00", tac_snr + check + ".0"]
    table = normalize(values, "imei").to_pylist()
    assert {row["canonical"] for row in table} == {tac_snr + check}
    assert table[2]["reason"] == "check_digit_recomputed"


@given(st.text(alphabet="0123456789", min_size=1, max_size=6), st.integers(1, 9))
def test_e_notation_with_lost_digits_is_never_accepted(mantissa, extra):
    frac = mantissa[1:] or "0"
    value = f"{mantissa[0]}.{frac}E+{len(frac) + extra}"
    kind, canonical, status, reason = normalize_value(value)
    assert (canonical, status, reason) == (None, "rejected", "lossy_number")


@given(
    st.text(alphabet="0123456789", min_size=10, max_size=10).filter(lambda s: s[0] in "23456789")
)
def test_e_notation_holding_every_digit_is_recovered(ten):
    value = f"{ten[0]}.{ten[1:]}E+9"
    kind, canonical, status, reason = normalize_value(value)
    assert reason in ("from_e_notation", "invalid_nanp")
    if status == "repaired":
        assert canonical == normalize_value(ten)[1]
