"""The cut counts each wanted field's empty values: the same as splitting the lines in Python.

The typed conversion takes these counts instead of scanning each column's views
(``_convert._null_sentinels``); also run with the JIT off.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from penlink_adapters._block_kernel import empty_field_counts
from penlink_adapters._plain_cut import CutSpec, cut_lines

pytestmark = pytest.mark.nojit

_fields = st.lists(st.sampled_from(["", "", "a", "12", " ", "abcdefghijklmnop"]), max_size=9)


@given(
    lines=st.lists(_fields.map(",".join), min_size=1, max_size=30),
    wanted=st.sets(st.integers(0, 8), min_size=1).map(sorted),
    crlf=st.booleans(),
    data=st.data(),
)
def test_counts_match_the_split_fields(
    lines: list[str], wanted: list[int], crlf: bool, data: st.DataObject
) -> None:
    text = ("\r\n" if crlf else "\n").join(lines) + "\n"
    cut = cut_lines(text.encode(), CutSpec(",", tuple(wanted), ""))
    assert cut is not None
    keep = np.array(data.draw(st.lists(st.booleans(), min_size=len(cut), max_size=len(cut))))
    expected = [0] * len(wanted)
    for line, kept in zip(lines, keep, strict=True):
        fields = line.split(",")
        for c, i in enumerate(wanted):
            expected[c] += bool(kept) and i < len(fields) and fields[i] == ""
    assert empty_field_counts(cut.facts.empties, keep, len(wanted)).tolist() == expected


def test_fields_past_the_64th_are_not_counted() -> None:
    wanted = list(range(70))
    cut = cut_lines(("," * 69 + "\n").encode(), CutSpec(",", tuple(wanted), ""))
    assert cut is not None
    counts = empty_field_counts(cut.facts.empties, np.ones(1, dtype=np.bool_), len(wanted))
    assert counts.tolist() == [1] * 64
