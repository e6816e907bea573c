"""pytest-benchmark suite for the identifier canon (not part of the default test run).

Run: .venv/bin/python -m pytest benchmarks/test_bench_normalize.py --benchmark-only
"""

from __future__ import annotations

import phonenumbers

from tls_core.identifiers import normalize


def test_normalize_repeated_numbers(benchmark, one_million_ten_percent_distinct):
    normalize(one_million_ten_percent_distinct[:100])
    table = benchmark(normalize, one_million_ten_percent_distinct)
    assert table.num_rows == len(one_million_ten_percent_distinct)


def test_normalize_every_value_distinct(benchmark, all_distinct):
    normalize(all_distinct[:100])
    table = benchmark(normalize, all_distinct)
    assert table.num_rows == len(all_distinct)


def test_phonenumbers_loop_baseline(benchmark, one_million_ten_percent_distinct):
    sample = one_million_ten_percent_distinct[:5000].to_pylist()

    def loop():
        out = []
        for value in sample:
            try:
                number = phonenumbers.parse(value, "US")
                out.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
            except phonenumbers.NumberParseException:
                out.append(None)
        return out

    assert len(benchmark(loop)) == len(sample)
