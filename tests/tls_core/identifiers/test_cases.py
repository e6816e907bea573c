"""What the canon says for the values analysts meet in returns."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
import pytest

from tls_core.errors import ConfigError
from tls_core.identifiers import normalize, normalize_value

CASES = [
    # value, kind asked, (kind, canonical, status, reason)
    ("(213) 555-0142", "auto", ("phone", "+12135550142", "ok", None)),
    ("213-555-0142", "phone", ("phone", "+12135550142", "ok", None)),
    ("12135550142", "auto", ("phone", "+12135550142", "ok", None)),
    ("+1 213 555 0142", "auto", ("phone", "+12135550142", "ok", None)),
    ("2135550142.0", "auto", ("phone", "+12135550142", "repaired", "spreadsheet_float")),
    ("2.135550142E+9", "auto", ("phone", "+12135550142", "repaired", "from_e_notation")),
    ("1.21355E+10", "auto", ("phone", None, "rejected", "lossy_number")),
    ("4.90154E+14", "imei", ("imei", None, "rejected", "lossy_number")),
    ("011 44 20 7946 0958", "auto", ("phone", "+442079460958", "ok", None)),
    ("+44 (0)20 7946 0958", "auto", ("phone", "+442079460958", "ok", None)),
    ("555-0142", "auto", ("phone", None, "rejected", "local_only_number")),
    ("1213555014", "auto", ("phone", None, "rejected", "invalid_nanp")),
    ("(213) 555-0142 x12", "phone", ("phone", "+12135550142", "repaired", "extension_dropped")),
    ("1-800-FLOWERS", "auto", ("phone", "+18003569377", "ok", None)),
    ("+999 1234", "phone", ("phone", None, "rejected", "invalid_country_code")),
    ("hello", "auto", ("phone", None, "rejected", "unrecognized")),
    ("911", "auto", ("service", "911", "ok", None)),
    ("611", "phone", ("service", "611", "ok", None)),
    ("*3334", "auto", ("service", "*3334", "ok", None)),
    ("28828", "auto", ("service", "28828", "ok", None)),
    ("490154203237518", "auto", ("imei", "490154203237518", "ok", None)),
    ("49015420323751", "imei", ("imei", "490154203237518", "ok", None)),
    ("4901542032375100", "imei", ("imei", "490154203237518", "ok", None)),
    ("490154203237510", "imei", ("imei", "490154203237518", "repaired", "check_digit_recomputed")),
    ("35-209900-176148-1", "auto", ("imei", "352099001761481", "ok", None)),
    ("310260123456789", "auto", ("imsi", "310260123456789", "ok", None)),
    ("12345", "imsi", ("imsi", None, "rejected", "bad_imsi")),
    ("8051f1ab", "auto", ("esn", "8051F1AB", "ok", None)),
    ("12805370283", "esn", ("esn", "8051F1AB", "ok", None)),
    ("0x8051F1AB", "esn", ("esn", "8051F1AB", "ok", None)),
    ("25605370283", "esn", ("esn", None, "rejected", "bad_esn")),
    ("a0000000002329", "auto", ("meid", "A0000000002329", "ok", None)),
    ("268435456000009001", "meid", ("meid", "A0000000002329", "ok", None)),
    ("164*01234*56", "auto", ("ufmi", "164*1234*56", "ok", None)),
    ("Agent.Smith@Example.COM", "auto", ("email", "agent.smith@example.com", "ok", None)),
    ("mailto:<a@b.org>", "email", ("email", "a@b.org", "ok", None)),
    ("not-an-email@", "email", ("email", None, "rejected", "bad_email")),
    (
        "HTTP://Example.com:80/Path?q=1#frag",
        "auto",
        ("url", "http://example.com/Path?q=1", "ok", None),
    ),
    ("www.example.org", "auto", ("url", "http://www.example.org/", "ok", None)),
    ("192.168.18.188", "auto", ("ip", "192.168.18.188", "ok", None)),
    ("2001:DB8:0:0::1", "auto", ("ip", "2001:db8::1", "ok", None)),
    ("::ffff:192.0.2.1", "ip", ("ip", "192.0.2.1", "ok", None)),
    ("192.168.018.188", "ip", ("ip", None, "rejected", "bad_ip")),
    ("   ", "auto", (None, None, "empty", None)),
    (None, "phone", (None, None, "empty", None)),
]


@pytest.mark.parametrize(("value", "kind", "expected"), CASES)
def test_reference(value, kind, expected):
    assert normalize_value(value, kind) == expected


def test_vectorized_matches_cases_by_kind():
    for kind in {k for _, k, _ in CASES}:
        rows = [(v, e) for v, k, e in CASES if k == kind]
        table = normalize([v for v, _ in rows], kind).to_pylist()
        assert [tuple(r.values()) for r in table] == [e for _, e in rows]


def test_region_decides_national_numbers_and_the_international_prefix():
    assert normalize_value("020 7946 0958", default_region="GB")[1] == "+442079460958"
    assert normalize_value("00 1 213 555 0142", default_region="GB")[1] == "+12135550142"
    assert normalize_value("011 1 213 555 0142", default_region="US")[1] == "+12135550142"


def test_input_types_agree():
    values = ["(213) 555-0142", None, "911", "(213) 555-0142"]
    expected = normalize(values).to_pylist()
    assert normalize(pa.array(values)).to_pylist() == expected
    assert normalize(pa.chunked_array([values[:2], values[2:]])).to_pylist() == expected
    assert normalize(pl.Series(values)).to_pylist() == expected
    assert normalize(pa.array(values).dictionary_encode()).to_pylist() == expected


def test_result_is_dictionary_encoded_and_one_row_per_input():
    values = ["2135550142", "(213) 555-0142", "+12135550142", None] * 1000
    table = normalize(values)
    assert table.num_rows == len(values)
    canonical = table.column("canonical").combine_chunks()
    assert pa.types.is_dictionary(canonical.type)
    # Three renderings of one number share one dictionary entry.
    assert canonical.dictionary.drop_null().to_pylist() == ["+12135550142"]
    assert table.column("status").to_pylist()[:4] == ["ok", "ok", "ok", "empty"]


def test_empty_input():
    assert normalize([]).num_rows == 0


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"kind": "msisdn"}, "unknown_kind"), ({"default_region": "ZZ"}, "unknown_region")],
)
def test_bad_options_raise_typed_errors(kwargs, reason):
    with pytest.raises(ConfigError) as info:
        normalize(["1"], **kwargs)
    assert info.value.reason == reason


def test_sliced_arrays_unicode_and_long_values_match_the_reference():
    values = ["(213) 555-0142", None, "ünïcödé", "911", "x" * 5000, "", "+1 213 555 0142", "💥"] * 3
    array = pa.array(values)
    for part in (array.slice(1), array.slice(3, 10), array.slice(0, 0), array.slice(7)):
        got = [tuple(row.values()) for row in normalize(part).to_pylist()]
        assert got == [normalize_value(v) for v in part.to_pylist()]


def test_all_null_input_is_empty_not_rejected():
    rows = normalize(pa.array([None, None], pa.string())).to_pylist()
    assert [r["status"] for r in rows] == ["empty", "empty"]


def test_two_kernel_threads_decide_as_one() -> None:
    """From _TWO_THREADS_FROM distinct values the kernel runs on two halves in two threads:
    the answers equal those of pieces small enough for one thread, row for row."""
    from tls_core.identifiers import normalize
    from tls_core.identifiers._normalize import _TWO_THREADS_FROM

    shapes = ("(213) 555-{:04d}", "+44 20 7946 {:04d}", "011 33 1 42 68 {:04d}", "49015420{:07d}")
    n = _TWO_THREADS_FROM + 20_000
    items: list[str | None] = [shapes[i % 4].format(i // 4) for i in range(n)]
    items[5::9973] = [None] * len(items[5::9973])
    items[7::4999] = [f"N/A-{i}" for i in range(len(items[7::4999]))]  # reference fallback
    whole = normalize(items)
    piece = _TWO_THREADS_FROM // 2
    parts = [normalize(items[s : s + piece]).to_pylist() for s in range(0, n, piece)]
    assert whole.to_pylist() == [row for part in parts for row in part]
