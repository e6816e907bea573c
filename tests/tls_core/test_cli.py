from __future__ import annotations

import json
import subprocess
import sys

ACCEPTANCE = ["(213) 555-0142", "011 44 20 7946 0958", "1.21355E+10", "490154203237518", "911"]


def _tls(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", "from tls_core.cli import main; main()", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def test_normalize_json_acceptance():
    done = _tls("normalize", *ACCEPTANCE, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["input"], r["kind"], r["canonical"], r["status"], r["reason"]) for r in rows] == [
        ("(213) 555-0142", "phone", "+12135550142", "ok", None),
        ("011 44 20 7946 0958", "phone", "+442079460958", "ok", None),
        ("1.21355E+10", "phone", None, "rejected", "lossy_number"),
        ("490154203237518", "imei", "490154203237518", "ok", None),
        ("911", "service", "911", "ok", None),
    ]


def test_normalize_human_output_is_a_table():
    done = _tls("normalize", "(213) 555-0142", "--region", "US")
    assert done.returncode == 0
    assert "+12135550142" in done.stdout


def test_bad_option_is_one_line_on_stderr_and_nonzero_exit():
    done = _tls("normalize", "911", "--kind", "msisdn")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("tls: error: unknown identifier kind 'msisdn'")


def test_human_output_never_cuts_a_value():
    url = "https://www.example.com/a/really/long/path/that/goes/on/and/on?with=query&and=more"
    done = _tls("normalize", url)
    assert done.returncode == 0
    assert "…" not in done.stdout
    flat = "".join(
        line.split("│")[3].strip() for line in done.stdout.splitlines() if line.count("│") > 4
    )
    assert flat == url
