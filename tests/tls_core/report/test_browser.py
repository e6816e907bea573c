"""The report in a real browser: Debian's chromium, headless, driven by its own chromedriver.

Run by ``.ci/browser-tier`` (``pytest -m browser``), which installs chromium, chromium-driver
and graphviz with apt-get and sets TLS_BROWSER_TIER=1: there a missing browser fails the run.
Elsewhere these tests skip when the browser is absent. TLS_BROWSER_ARTIFACTS, when set, names
a directory that receives the screenshots.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from pathlib import Path

import pytest

from tls_core.report import ReportCase, ReportData, write_report

from ._sample import expected_edges, sample_data
from .test_report import HOSTILE, hostile_data

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
IN_TIER = os.environ.get("TLS_BROWSER_TIER") == "1"


def _need(tool: Path | str | None, what: str) -> None:
    if tool is not None and Path(tool).exists():
        return
    message = f"{what} is not installed (run .ci/browser-tier, which installs it with apt-get)"
    if IN_TIER:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def driver():
    _need(CHROMIUM, "chromium")
    _need(CHROMEDRIVER, "chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the tier runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,1000",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return write_report(sample_data(), tmp_path_factory.mktemp("report"), png="never")


def load(driver, path: Path) -> list[dict]:
    """Open ``path``, wait for the script to run, return the console messages of this load."""
    driver.get_log("browser")  # drop messages of earlier pages
    driver.get_log("performance")
    driver.get(path.resolve().as_uri())
    status = driver.find_element("id", "chart-status")
    assert status.text, "the page script did not run"
    return driver.get_log("browser")


def count(driver, selector: str) -> int:
    return driver.execute_script(f"return document.querySelectorAll({json.dumps(selector)}).length")


def visible_edges(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#link-chart [data-edge]'))"
        ".filter(e => getComputedStyle(e).display !== 'none')"
        ".map(e => e.getAttribute('data-link-type'));"
    )


def test_no_console_errors(driver, report):
    messages = load(driver, report.html)
    errors = [m for m in messages if m["level"] in {"SEVERE", "WARNING"}]
    assert errors == []


def test_the_page_requests_nothing_but_itself(driver, report):
    load(driver, report.html)
    requested = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.add(message["params"]["request"]["url"])
    assert requested <= {report.html.resolve().as_uri()}


def test_drawn_counts_equal_the_data(driver, report):
    data = sample_data()
    load(driver, report.html)
    nodes = len(data.cases) + len(data.identifiers)
    assert count(driver, "#link-chart [data-node]") == nodes
    assert count(driver, "#link-chart [data-node='case']") == len(data.cases)
    assert count(driver, "#link-chart [data-node='hub']") == 2
    assert count(driver, "#link-chart [data-edge]") == len(expected_edges(data))
    assert len(visible_edges(driver)) == len(expected_edges(data))
    assert count(driver, "tr[data-evidence]") == sum(len(k.evidence) for k in data.links)
    status = driver.find_element("id", "chart-status").text
    assert status == "12 of 12 edges shown; 3 links between 4 cases."
    # Every drawn node has a real box on screen (nothing at 0x0 or off the canvas).
    sizes = driver.execute_script(
        "return Array.from(document.querySelectorAll('#link-chart [data-node]'))"
        ".map(n => { const r = n.getBoundingClientRect(); return [r.width, r.height]; });"
    )
    assert all(w > 0 and h > 0 for w, h in sizes)


def test_filtering_by_link_type_hides_edges(driver, report):
    load(driver, report.html)
    before = visible_edges(driver)
    box = driver.find_element("css selector", "input[data-filter='common_contact']")
    assert box.is_displayed()
    box.click()
    after = visible_edges(driver)
    assert "common_contact" not in after
    assert len(after) == len(before) - before.count("common_contact")
    assert sorted(after) == sorted(t for t in before if t != "common_contact")
    rows = driver.find_elements("css selector", "tr[data-link-type='common_contact']")
    assert rows
    assert not any(r.is_displayed() for r in rows)
    status = driver.find_element("id", "chart-status").text
    assert status.startswith(f"{len(after)} of {len(before)} edges shown")
    box.click()
    assert sorted(visible_edges(driver)) == sorted(before)


def test_hovering_a_node_highlights_its_edges(driver, report):
    from selenium.webdriver import ActionChains

    load(driver, report.html)
    node = driver.find_element("css selector", "[data-node][data-id='case:CH-2026-0003']")
    ActionChains(driver).move_to_element(node).perform()
    dimmed = driver.execute_script(
        "return Array.from(document.querySelectorAll('#link-chart [data-edge]'))"
        ".filter(e => !e.classList.contains('dim')).map(e => e.getAttribute('data-source'));"
    )
    assert dimmed
    assert set(dimmed) == {"case:CH-2026-0003"}


def test_hostile_strings_run_no_script(driver, tmp_path):
    files = write_report(hostile_data(HOSTILE), tmp_path, png="never")
    messages = load(driver, files.html)
    assert [m for m in messages if m["level"] == "SEVERE"] == []
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert driver.title == HOSTILE
    assert (
        driver.execute_script(
            "return JSON.parse(document.getElementById('report-data').textContent).title"
        )
        == HOSTILE
    )


def test_a_page_without_links_says_so(driver, tmp_path):
    data = ReportData(
        title="Nothing links",
        generated_utc=sample_data().generated_utc,
        cases=(ReportCase("A-1", "one", "Agent A", "Office A"),),
    )
    files = write_report(data, tmp_path, png="never")
    messages = load(driver, files.html)
    assert [m for m in messages if m["level"] == "SEVERE"] == []
    assert driver.find_element("id", "no-links").is_displayed()
    assert count(driver, "#link-chart [data-edge]") == 0
    assert driver.find_element("id", "chart-status").text.startswith("0 of 0 edges shown")


def test_without_javascript_the_chart_and_tables_still_show(driver, report):
    data = sample_data()
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get(report.html.resolve().as_uri())
        chart = driver.find_element("id", "link-chart")
        assert chart.is_displayed()
        assert chart.size["width"] > 500
        edges = driver.find_elements("css selector", "#link-chart [data-edge]")
        assert len(edges) == len(expected_edges(data))
        rows = driver.find_elements("css selector", "tr[data-evidence]")
        assert len(rows) == 4
        assert all(r.is_displayed() for r in rows)
        # The filter needs the script: it stays hidden rather than offering dead checkboxes.
        assert not driver.find_element("id", "chart-filters").is_displayed()
        assert driver.find_element("id", "chart-status").text == ""
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_the_svg_file_shows_the_same_chart(driver, report):
    driver.get_log("browser")
    driver.get(report.svg.resolve().as_uri())
    assert driver.get_log("browser") == []
    assert count(driver, "[data-node]") == len(sample_data().cases) + len(sample_data().identifiers)
    assert count(driver, "[data-edge]") == len(expected_edges(sample_data()))
    assert count(driver, "[data-legend]") == 7


def test_screenshot(driver, report, tmp_path):
    load(driver, report.html)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1200, "height": height, "scale": 1},
        },
    )
    out = tmp_path / "report-screenshot.png"
    out.write_bytes(base64.b64decode(shot["data"]))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 20_000
    artifacts = os.environ.get("TLS_BROWSER_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(out, Path(artifacts) / out.name)


def test_the_png_chart_is_drawn_by_graphviz_reproducibly(tmp_path):
    _need(shutil.which("neato"), "graphviz (neato)")
    one = write_report(sample_data(), tmp_path / "one", png="always")
    two = write_report(sample_data(), tmp_path / "two", png="always")
    assert one.png is not None
    assert two.png is not None
    assert one.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert one.png.read_bytes() == two.png.read_bytes()
    artifacts = os.environ.get("TLS_BROWSER_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(one.png, Path(artifacts) / "link-chart.png")
