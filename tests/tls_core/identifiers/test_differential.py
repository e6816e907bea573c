"""The numba fast path against the phonenumbers reference, on every value the kernel decides."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from tls_core.identifiers import normalize, normalize_value
from tls_core.identifiers._normalize import kernel_decisions

pytestmark = pytest.mark.nojit

REGIONS_SAMPLE = ["US", "CA", "JM", "PR", "GB", "DE", "FR", "MX", "BR", "IN", "JP", "AU", "SE"]


def _assert_agree(values, kind="auto", region="US"):
    fast = kernel_decisions(values, kind, default_region=region)
    decided = 0
    for value, got in zip(values, fast, strict=True):
        if got is None:
            continue
        decided += 1
        assert got == normalize_value(value, kind, default_region=region), value
    return decided


def _example_renderings():
    """Every region's example numbers, written four or five ways each."""
    rows = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for ntype in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            number = phonenumbers.example_number_for_type(region, ntype)
            if number is None:
                continue
            e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
            intl = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
            national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
            rows += [
                (e164, region, e164),
                (intl, region, e164),
                (national, region, e164),
                ("011 " + e164[1:], "US", e164),
                ("00" + e164[1:], "DE", e164),
            ]
    return rows


EXAMPLES = _example_renderings()


def test_example_numbers_fast_path_equals_reference():
    by_region: dict[str, list[str]] = {}
    for value, region, _ in EXAMPLES:
        by_region.setdefault(region, []).append(value)
    decided = sum(_assert_agree(values, "phone", region) for region, values in by_region.items())
    # The fast path must carry most of the work, or the differential test proves little.
    assert decided > 0.6 * len(EXAMPLES)


def test_example_numbers_normalize_to_their_e164():
    mismatches = []
    for value, region, e164 in EXAMPLES:
        kind, canonical, status, reason = normalize_value(value, "phone", default_region=region)
        if status != "rejected":
            if canonical != e164:
                mismatches.append((value, region, canonical, e164))
        elif reason not in ("invalid_nanp", "local_only_number", "impossible_number"):
            mismatches.append((value, region, reason, e164))
    assert mismatches == []


def test_vectorized_equals_reference_on_examples():
    values = [v for v, region, _ in EXAMPLES if region == "US"] + [v for v, *_ in EXAMPLES[:400]]
    table = normalize(values, "phone").to_pylist()
    for value, row in zip(values, table, strict=True):
        assert tuple(row.values()) == normalize_value(value, "phone"), value


_CHARS = st.sampled_from(list("0123456789+ -./()*#xE@:abcf") + ["011", "00", ".0", "1", "\t"])
noise = st.lists(_CHARS, max_size=22).map("".join)
digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=19)


@given(st.lists(st.one_of(noise, digit_strings), max_size=30), st.sampled_from(REGIONS_SAMPLE))
def test_fast_path_equals_reference_on_arbitrary_text(values, region):
    _assert_agree(values, "auto", region)
    _assert_agree(values, "phone", region)


@given(st.lists(digit_strings, max_size=30))
def test_fast_path_equals_reference_for_imei(values):
    _assert_agree(values, "imei")


@given(
    st.lists(st.one_of(noise, digit_strings, st.none()), max_size=40),
    st.sampled_from(REGIONS_SAMPLE),
)
def test_normalize_equals_reference_row_by_row(values, region):
    table = normalize(values, "auto", default_region=region).to_pylist()
    for value, row in zip(values, table, strict=True):
        assert tuple(row.values()) == normalize_value(value, "auto", default_region=region)


def test_kernels_run_compiled_or_interpreted_as_the_job_asks():
    import os

    from tls_core.identifiers import _dedup, _kernels

    interpreted = os.environ.get("NUMBA_DISABLE_JIT") == "1"
    assert hasattr(_kernels.phone_kernel, "py_func") is not interpreted
    assert hasattr(_dedup._dedup_groups, "py_func") is not interpreted


@given(
    st.lists(
        st.builds(
            lambda sign, whole, frac, e, sep, exp: (
                f"{sign}{whole}{'.' + frac if frac else ''}{e}{sep}{exp}"
            ),
            st.sampled_from(["", "+"]),
            st.text("0123456789", min_size=1, max_size=3),
            st.text("0123456789", max_size=12),
            st.sampled_from(["E", "e"]),
            st.sampled_from(["", "+", "-"]),
            st.text("0123456789", min_size=0, max_size=3),
        ),
        max_size=30,
    ),
    st.sampled_from(["auto", "phone", "imei"]),
)
def test_fast_path_equals_reference_on_e_notation(values, kind):
    _assert_agree(values, kind)


@given(
    st.lists(st.text(alphabet="*#0123456789 -.()x", max_size=20), max_size=30),
    st.sampled_from(["auto", "phone"]),
)
def test_fast_path_equals_reference_on_feature_codes(values, kind):
    _assert_agree(values, kind)


def test_every_country_code_and_length_agrees_with_the_reference():
    """Systematic sweep: each calling code, each national length 2-17, each leading digit."""
    from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

    plus, idd = [], []
    for cc in sorted(COUNTRY_CODE_TO_REGION_CODE):
        for length in range(2, 18):
            for lead in "0123456789":
                nsn = (lead + "23456789" * 3)[:length]
                plus.append(f"+{cc} {nsn}")
                idd.append(f"011{cc}{nsn}")
    decided = _assert_agree(plus, "phone") + _assert_agree(idd, "phone", "US")
    # Most lengths are impossible for most codes (the reference rejects those); the rest agree.
    assert decided > 0.1 * (len(plus) + len(idd))


def test_every_nanp_region_agrees_on_national_numbers():
    nanp_regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]
    values = [
        f"{prefix}{a}{b}5550142"[: 3 + length]
        for prefix in ("", "1")
        for a in "0123456789"
        for b in "0123456789"
        for length in range(10)
    ]
    decided = sum(_assert_agree(values, "auto", region) for region in nanp_regions)
    assert decided > 0


_JUNK_PREFIX = st.text(alphabet="NAnaxXtTeElLoOfFbB /-@.:+#*(", min_size=1, max_size=8)
_JUNK_REST = st.text(alphabet="0123456789 -()/.+x#", max_size=16)
_JUNK_DIGITS = st.one_of(
    st.text(alphabet="0123456789", max_size=13),
    st.builds("{}{}".format, st.sampled_from(["1", "011", "0", "00", "+"]), digit_strings),
)


@given(
    st.lists(
        st.builds(
            "{}{}{}".format,
            _JUNK_PREFIX,
            st.sampled_from(["", " ", "-", "/"]),
            st.one_of(_JUNK_DIGITS, _JUNK_REST),
        ),
        max_size=30,
    ),
    st.sampled_from([*REGIONS_SAMPLE, "DO", "BS"]),
    st.sampled_from(["auto", "phone", "service", "imei"]),
)
def test_fast_path_equals_reference_after_a_junk_prefix(values, region, kind):
    """``N/A-1234``, ``NONE``, ``x 011 44 ...``: letters before the number."""
    _assert_agree(values, kind, region)


def test_short_numbers_after_a_junk_prefix_sweep():
    """Every number of 1-3 digits and longer ones led by 0, 1 and 011, after junk prefixes."""
    tails = [str(n).zfill(width) for width in (1, 2, 3) for n in range(10**width)]
    tails += [
        lead + "5550142123"[:length] for lead in ("0", "1", "2", "011") for length in range(11)
    ]
    tails += ["1-2", "12-", "1 23", "(213) 555-0142", ""]
    values = [prefix + tail for prefix in ("N/A-", "none ", "Tel/") for tail in tails]
    decided = {
        region: _assert_agree(values, kind, region)
        for region in ("US", "CA", "DO", "BS", "GB")
        for kind in ("auto", "phone")
    }
    assert decided["US"] > 0.95 * len(values)


def test_kernel_reason_codes_match_the_reason_names():
    from tls_core.identifiers import _kernels
    from tls_core.identifiers._codes import REASON_CODE

    assert REASON_CODE["local_only_number"] == _kernels._R_LOCAL_ONLY
    assert REASON_CODE["impossible_number"] == _kernels._R_IMPOSSIBLE
    assert REASON_CODE["unparseable"] == _kernels._R_UNPARSEABLE
    assert REASON_CODE["unrecognized"] == _kernels._R_UNRECOGNIZED
    assert REASON_CODE["ambiguous_identifier"] == _kernels._R_AMBIGUOUS


@pytest.mark.parametrize("kind", ["auto", "phone", "imei"])
def test_tabs_and_parentheses_the_reference_refuses(kind):
    """``phonenumbers`` refuses a tab inside a number; IMEI separators exclude parentheses."""
    values = ["213\t555\t0142", "+\t9537744902", "+\t-9537744902", "( 13305710857675"]
    values += ["(-0116321795237968", "35 209900 176148 1", "35-209900-176148-1"]
    _assert_agree(values, kind)
