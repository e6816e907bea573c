"""RESULTS.md sections: a rerun replaces a section's body and keeps its notes (the history).

The sessions' notes (what was measured, changed and dropped, with figures) live only in
RESULTS.md; a benchmark command rewriting its section must not lose them.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from benchmarks import _results
from benchmarks._results import replace_section

# Text of a body or notes: anything but the markers themselves (no "<!--").
_TEXT = st.text(st.characters(blacklist_characters="<\r"), min_size=1, max_size=200).filter(
    lambda s: s.strip() == s and s
)


def _section(name: str, body: str, notes: str | None = None) -> str:
    kept = f"\n\n<!-- {name}:notes:start -->\n{notes}\n<!-- {name}:notes:end -->" if notes else ""
    return f"<!-- {name}:start -->\n{body}{kept}\n<!-- {name}:end -->"


def _parts(text: str, name: str) -> tuple[str, str | None]:
    """The body and the notes of section ``name`` of ``text``."""
    block = re.search(f"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert block is not None
    inner = block.group(1)
    notes = re.search(
        f"\n\n<!-- {name}:notes:start -->\n(.*)\n<!-- {name}:notes:end -->$", inner, re.S
    )
    if notes is None:
        return inner, None
    return inner[: notes.start()], notes.group(1)


def test_rerun_keeps_the_notes_and_replaces_the_body():
    text = "# head\n\n" + _section("read", "old table", "session 2\n\nsession 1") + "\n\ntail\n"
    out = replace_section(text, "read", "new table\n")
    assert out == "# head\n\n" + _section("read", "new table", "session 2\n\nsession 1") + (
        "\n\ntail\n"
    )


def test_other_sections_are_untouched_even_with_a_name_that_extends_this_one():
    ingest = _section("ingest", "1 M rows", "ingest notes")
    big = _section("ingest-10000000", "10 M rows", "10 M notes")
    text = f"# head\n\n{ingest}\n\n{big}\n"
    out = replace_section(text, "ingest", "1 M rows again")
    assert out == f"# head\n\n{_section('ingest', '1 M rows again', 'ingest notes')}\n\n{big}\n"
    out = replace_section(text, "ingest-10000000", "10 M again")
    assert (
        out == f"# head\n\n{ingest}\n\n{_section('ingest-10000000', '10 M again', '10 M notes')}\n"
    )


def test_a_section_without_notes_gets_none_and_a_missing_one_is_appended():
    text = "# head\n\n" + _section("link", "old") + "\n"
    assert replace_section(text, "link", "new") == "# head\n\n" + _section("link", "new") + "\n"
    assert replace_section(text, "search", "found") == (
        text + "\n" + _section("search", "found") + "\n"
    )


@given(body=_TEXT, notes=st.one_of(st.none(), _TEXT), new=_TEXT)
def test_body_and_notes_round_trip(body, notes, new):
    text = "# head\n\n" + _section("s", body, notes) + "\n"
    out = replace_section(text, "s", new)
    assert _parts(out, "s") == (new, notes)
    assert replace_section(out, "s", body) == text


def test_the_stored_results_survive_a_rewrite_of_each_section_with_notes():
    """Rewriting a section of the real RESULTS.md with its own body changes no byte."""
    text = _results.RESULTS.read_text()
    names = re.findall(r"<!-- (\S+):notes:start -->", text)
    assert {"read", "ingest-10000000"} <= set(names)
    for name in names:
        body, notes = _parts(text, name)
        assert notes
        assert replace_section(text, name, body) == text


def test_write_section_writes_the_file(tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text("# head\n\n" + _section("read", "old", "kept") + "\n")
    monkeypatch.setattr(_results, "RESULTS", results)
    _results.write_section("read", "\nnew\n")
    assert results.read_text() == "# head\n\n" + _section("read", "new", "kept") + "\n"
