"""docs/layouts.md stays true: its layout skeleton parses and its worked example reads."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import penlink_adapters as pla
from penlink_adapters._layout import parse_layout

DOC = Path(__file__).parents[2] / "docs" / "layouts.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_layout_skeleton_in_docs_is_valid() -> None:
    skeleton = _blocks("toml")[0]
    layout = parse_layout(tomllib.loads(skeleton), source=str(DOC))
    assert layout.name == "acme"
    assert layout.direction_map == {"o": "outgoing", "i": "incoming"}


def test_worked_example_reads(tmp_path: Path) -> None:
    found = re.search(r"```\n(ACME WIRELESS.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert found
    sample = found.group(1)
    path = tmp_path / "acme.csv"
    path.write_text(sample, encoding="utf-8")
    skeleton = tomllib.loads(_blocks("toml")[0])
    skeleton["fingerprint"]["optional"] = ["Cell"]
    skeleton["fingerprint"]["known"] = []
    layout = parse_layout(skeleton)
    records, rejects, report = pla.read_return(path, layout=layout, source_tz="America/New_York")
    assert (report.loaded, rejects.num_rows, report.skipped) == (2, 0, 3)
    assert report.target_source == "preamble"
    assert records.column("direction").to_pylist() == ["outgoing", "incoming"]
    assert records.column("term_canonical").to_pylist() == ["+12125550177", "+12125550100"]
