"""The report page, the SVG and PNG files: structure, escaping, offline, determinism."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tls_core.errors import ConfigError
from tls_core.report import (
    Evidence,
    ReportCase,
    ReportData,
    ReportIdentifier,
    ReportLink,
    build_chart,
    write_report,
)

from ._parse import parse_page
from ._sample import HOUSTON_TARGET, SHARED_CONTACT, expected_edges, sample_data

HOSTILE = "</script><script>alert(1)</script> \"quoted\" 'single' <b>&amp; ünï©ødé 📞 \u2028 \u202e"


def drawn_edges(page) -> set[tuple[str, str, str]]:
    return {
        (
            e.attrs["data-source"].removeprefix("case:"),
            e.attrs["data-target"].removeprefix("id:"),
            e.attrs["data-link-type"],
        )
        for e in page.find(data_edge=True)
    }


def test_page_structure_matches_the_data(tmp_path):
    data = sample_data()
    files = write_report(data, tmp_path, png="never")
    page = parse_page(files.html)
    assert len(page.find("svg", id="link-chart")) == 1
    nodes = page.find(data_node=True)
    assert len(nodes) == len(data.cases) + len(data.identifiers)
    assert len(page.find(data_node="case")) == 4
    assert len(page.find(data_node="hub")) == 2
    assert len(page.find(data_node="identifier")) == 4
    edges = page.find(data_edge=True)
    assert len(edges) == len(expected_edges(data)) == 12
    assert drawn_edges(page) == expected_edges(data)
    rows = page.find("tr", data_evidence=True)
    assert len(rows) == sum(len(link.evidence) for link in data.links) == 4
    assert len(page.find("article", **{"class": "alert"})) == 3
    assert page.find(id="synthetic-banner")
    assert not page.find(id="no-links")
    assert len(page.find(data_timeline_event=True)) == len(data.timeline)
    assert len(page.find("table", **{"class": "top-contacts"})) == 2
    assert len(page.find("table", **{"class": "restricted"})) == 1


def test_evidence_rows_show_records_per_case_and_grades(tmp_path):
    files = write_report(sample_data(), tmp_path, png="never")
    page = parse_page(files.html)
    texts = [r.text for r in page.find("tr", data_evidence=True)]
    (row,) = [t for t in texts if HOUSTON_TARGET in t]
    assert "direct contact" in row
    assert "exact" in row
    assert "41" in row
    assert "388" in row
    assert "2026-03-02 08:00" in row
    assert any("national_number" in t and SHARED_CONTACT in t for t in texts)


def test_filters_offer_only_the_types_drawn(tmp_path):
    files = write_report(sample_data(), tmp_path, png="never")
    page = parse_page(files.html)
    offered = {e.attrs["data-filter"] for e in page.find("input", data_filter=True)}
    assert offered == {t for _, _, t in expected_edges(sample_data())}
    # The filter box needs the script: hidden until the script shows it.
    (fieldset,) = page.find("fieldset", id="chart-filters")
    assert "hidden" in fieldset.attrs


def test_embedded_json_round_trips(tmp_path):
    data = sample_data()
    files = write_report(data, tmp_path, png="never")
    embedded = parse_page(files.html).data()
    assert embedded["title"] == data.title
    assert embedded["generated_utc"] == "2026-04-01T02:00:00+00:00"
    assert [c["number"] for c in embedded["cases"]] == [c.number for c in data.cases]
    assert len(embedded["links"]) == 3
    assert embedded["links"][0]["evidence"][0]["records_b"] == 388


def test_the_page_fetches_nothing(tmp_path):
    files = write_report(sample_data(), tmp_path, png="never")
    raw = files.html.read_text()
    page = parse_page(files.html)
    for element in page.elements:
        for name in ("src", "href", "action", "data", "poster", "srcset"):
            value = element.attrs.get(name) or ""
            assert not re.match(r"\s*(https?:)?//", value), (element.tag, name, value)
    assert not page.find("link")
    assert not page.find("img")
    assert all("src" not in attrs for attrs, _ in page.scripts)
    assert "@import" not in raw
    assert "url(" not in raw
    (csp,) = page.find("meta", http_equiv="Content-Security-Policy")
    assert "default-src 'none'" in csp.attrs["content"]
    # The SVG namespace is a name, not a fetch; it is the only URL in the page.
    urls = set(re.findall(r"https?://[^\s\"'<>]+", raw))
    assert urls == {"http://www.w3.org/2000/svg"}


def test_script_is_pinned_by_its_hash(tmp_path):
    import base64
    import hashlib

    files = write_report(sample_data(), tmp_path, png="never")
    page = parse_page(files.html)
    (csp,) = page.find("meta", http_equiv="Content-Security-Policy")
    (body,) = [b for a, b in page.scripts if "type" not in a]
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp.attrs["content"]


def hostile_data(value: str) -> ReportData:
    data = sample_data()
    case = dataclasses.replace(data.cases[0], title=value, owner_name=value)
    ident = ReportIdentifier(value, "email")
    return dataclasses.replace(
        data,
        title=value,
        cases=(case, *data.cases[1:]),
        identifiers=(*data.identifiers, ident),
    )


def test_hostile_strings_are_escaped(tmp_path):
    files = write_report(hostile_data(HOSTILE), tmp_path, png="never")
    raw = files.html.read_text()
    assert "<script>alert" not in raw
    assert raw.count("<script") == 2
    assert raw.count("</script>") == 2
    page = parse_page(files.html)
    assert len(page.scripts) == 2
    assert page.data()["title"] == HOSTILE
    assert page.data()["cases"][0]["owner_name"] == HOSTILE
    assert page.find("title")[0].text == HOSTILE  # the page's own <title>
    assert any(HOSTILE in e.text for e in page.find("td"))
    assert page.find(data_id=f"id:{HOSTILE}")
    # The SVG file is XML: it parses and keeps the text.
    tree = ET.parse(files.svg)
    texts = "".join(tree.getroot().itertext())
    assert HOSTILE in texts


# Characters XML 1.0 cannot hold: the report shows U+FFFD for them (in HTML and SVG alike).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(min_size=1, max_size=40))
def test_any_text_stays_data(tmp_path, value):
    assume(value not in {i.canonical for i in sample_data().identifiers})
    files = write_report(hostile_data(value), tmp_path / "out", png="never")
    page = parse_page(files.html)
    assert len(page.scripts) == 2
    assert page.data()["title"] == value
    shown = NOT_XML.sub("\ufffd", value)
    assert [e.attrs["data-id"] for e in page.find(data_node="identifier")].count(f"id:{shown}") == 1
    assert len(page.find(data_node=True)) == len(sample_data().identifiers) + 5
    ET.parse(files.svg)


def test_same_input_gives_byte_identical_files(tmp_path):
    one = write_report(sample_data(), tmp_path / "one")
    two = write_report(sample_data(), tmp_path / "two")
    assert one.html.read_bytes() == two.html.read_bytes()
    assert one.svg.read_bytes() == two.svg.read_bytes()
    assert (one.png is None) == (two.png is None)
    if one.png is not None and two.png is not None:
        assert one.png.read_bytes() == two.png.read_bytes()


def test_the_seed_moves_the_layout():
    a = build_chart(sample_data(), seed=0)
    b = build_chart(sample_data(), seed=1)
    assert [n.id for n in a.nodes] == [n.id for n in b.nodes]
    assert [(n.x, n.y) for n in a.nodes] != [(n.x, n.y) for n in b.nodes]


def test_hubs_sit_apart_and_nodes_stay_on_the_canvas():
    chart = build_chart(sample_data())
    assert chart.hub_band_x is not None
    for node in chart.nodes:
        assert 0 < node.x < chart.width
        assert 0 < node.y < chart.height
        assert (node.x > chart.hub_band_x) == (node.kind == "hub")


def test_no_links_renders_a_clear_page(tmp_path):
    data = ReportData(
        title="Nothing links",
        generated_utc=datetime(2026, 1, 1, tzinfo=UTC),
        cases=(
            ReportCase("A-1", "one", "Agent A", "Office A"),
            ReportCase("B-2", "two", "Agent B", "Office B"),
        ),
    )
    files = write_report(data, tmp_path, png="never")
    page = parse_page(files.html)
    (empty,) = page.find(id="no-links")
    assert "No links" in empty.text
    assert len(page.find(data_node="case")) == 2
    assert not page.find(data_edge=True)
    assert not page.find(id="synthetic-banner")
    assert page.data()["links"] == []
    ET.parse(files.svg)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda d: dataclasses.replace(d, links=(dataclasses.replace(d.links[0], case_b="ZZ"),)),
            "unknown_case",
        ),
        (
            lambda d: dataclasses.replace(
                d, links=(dataclasses.replace(d.links[0], strength=1.5),)
            ),
            "bad_strength",
        ),
        (
            lambda d: dataclasses.replace(
                d, links=(dataclasses.replace(d.links[0], case_b=d.links[0].case_a),)
            ),
            "self_link",
        ),
        (
            lambda d: dataclasses.replace(
                d, links=(dataclasses.replace(d.links[0], link_types=("friends",)),)
            ),
            "unknown_link_type",
        ),
        (
            lambda d: dataclasses.replace(d, generated_utc=datetime(2026, 1, 1)),
            "naive_or_local_time",
        ),
        (lambda d: dataclasses.replace(d, cases=d.cases + d.cases[:1]), "duplicate_case"),
        (
            lambda d: dataclasses.replace(
                d, identifiers=(*d.identifiers, ReportIdentifier("x", "fax"))
            ),
            "unknown_kind",
        ),
    ],
)
def test_inconsistent_data_is_refused(tmp_path, change, reason):
    with pytest.raises(ConfigError) as info:
        write_report(change(sample_data()), tmp_path, png="never")
    assert info.value.reason == reason
    assert not (tmp_path / "report.html").exists()


def test_png_needs_graphviz_when_asked_for(tmp_path):
    missing = str(tmp_path / "no-such-neato")
    with pytest.raises(ConfigError) as info:
        write_report(sample_data(), tmp_path, png="always", graphviz=missing)
    assert info.value.reason == "graphviz_missing"
    assert "apt-get install graphviz" in str(info.value)
    files = write_report(sample_data(), tmp_path, png="auto", graphviz=missing)
    assert files.png is None
    assert files.notes
    assert "graphviz" in files.notes[0].lower()
    files = write_report(sample_data(), tmp_path / "never", png="never")
    assert files.png is None
    assert files.notes == ()


def test_embedded_data_is_exactly_the_input(tmp_path):
    data = sample_data(synthetic=False)
    files = write_report(data, tmp_path, png="never")
    embedded = parse_page(files.html).data()
    expected = json.loads(json.dumps(dataclasses.asdict(data), default=lambda t: t.isoformat()))
    assert embedded == expected
    assert not parse_page(files.html).find(id="synthetic-banner")


LINK_TYPES = (
    "common_target",
    "direct_contact",
    "common_contact",
    "device_continuity",
    "subscriber_match",
    "misc_match",
)


@st.composite
def report_data(draw):
    """Random consistent ReportData: any text for names and values, any shape of links."""
    numbers = draw(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=6, unique=True))
    values = draw(st.lists(st.text(min_size=1, max_size=12), max_size=8, unique=True))
    cases = tuple(
        ReportCase(n, draw(st.text(max_size=8)), "Agent", "Office", restricted=draw(st.booleans()))
        for n in numbers
    )
    hubs = draw(st.sets(st.sampled_from(values))) if values else set()
    identifiers = tuple(
        ReportIdentifier(
            v,
            "phone",
            suppressed=v in hubs,
            cases=tuple(draw(st.sets(st.sampled_from(numbers)))) if v in hubs else (),
        )
        for v in values
    )
    links = []
    shared = [v for v in values if v not in hubs]
    if len(numbers) >= 2 and shared:
        for _ in range(draw(st.integers(0, 6))):
            a, b = draw(st.lists(st.sampled_from(numbers), min_size=2, max_size=2, unique=True))
            rows = tuple(
                Evidence(
                    draw(st.sampled_from(shared)),
                    "phone",
                    draw(st.sampled_from(LINK_TYPES)),
                    "exact",
                    draw(st.integers(0, 50)),
                    draw(st.integers(0, 50)),
                )
                for _ in range(draw(st.integers(1, 3)))
            )
            links.append(
                ReportLink(
                    a, b, tuple(sorted({r.link_type for r in rows})), draw(st.floats(0, 1)), rows
                )
            )
    return ReportData(
        "random",
        datetime(2026, 1, 1, tzinfo=UTC),
        cases,
        identifiers,
        tuple(links),
        synthetic=draw(st.booleans()),
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=report_data())
def test_drawn_chart_equals_the_data_for_any_input(tmp_path, data):
    files = write_report(data, tmp_path / "out", png="never")
    page = parse_page(files.html)
    shown = lambda v: NOT_XML.sub("\ufffd", v)  # noqa: E731
    expected = {(shown(c), shown(i), t) for c, i, t in expected_edges(data)}
    assert drawn_edges(page) == expected
    assert len(page.find(data_edge=True)) == len(expected)
    assert len(page.find(data_node=True)) == len(data.cases) + len(data.identifiers)
    assert len(page.find(data_node="hub")) == sum(i.suppressed for i in data.identifiers)
    assert len(page.find("tr", data_evidence=True)) == sum(len(k.evidence) for k in data.links)
    assert bool(page.find(id="no-links")) == (not data.links)
    assert bool(page.find(id="synthetic-banner")) == data.synthetic
    assert len(page.scripts) == 2
    assert page.data()["cases"][0]["number"] == data.cases[0].number
    ET.parse(files.svg)
