"""The dashboard in a real browser: `streamlit run app.py` driven by Debian's chromium through Playwright.

For every page: the charts draw (each vega-embed holds a non-empty SVG), no Streamlit error element
appears, and one filter clicked in the page changes a chart. Screenshots land in test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from zoo import BenchmarkRow, Catalog

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run"]

# Skipped only on a developer machine without chromium; in CI (CI set) a missing browser fails the run.
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="Debian's chromium is not on the PATH (apt-get install chromium)")

# Chart SVGs as markup, one per vega-embed; an SVG without marks counts as empty.
DRAWN_CHARTS = """() => Array.from(document.querySelectorAll('.vega-embed[data-testid="stVegaLiteChart"]')).map(e => {
    const svg = e.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    const marks = svg ? svg.querySelectorAll('.mark-symbol path, .mark-rect path, .mark-area path').length : 0;
    return {width: box.width, height: box.height, marks: marks, markup: svg ? svg.innerHTML : ''};
})"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stored_run(key: str, mode: str, tokens_per_s: float) -> BenchmarkRow:
    """A benchmark row of the shape `zoo bench` stores, so the Benchmarks page has runs to chart."""
    return BenchmarkRow(key=key, spec_json="{}", variant="scale=tiny", mode=mode, batch=1, seq=64, dtype="fp32",
                        device="cpu", device_name="browser-test cpu", torch_version="test",
                        created_at=dt.datetime.now(dt.UTC).isoformat(), tokens_per_s=tokens_per_s,
                        peak_memory_bytes=2**20 * (1 + int(tokens_per_s) % 7))


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """The app served on a free local port from a catalog in a temporary file; yields (base URL, models frame)."""
    path = tmp_path_factory.mktemp("browser") / "catalog.sqlite"
    catalog = Catalog(path)
    frame = catalog.frame()
    for index, key in enumerate(frame["key"].iloc[:3]):
        catalog.add_benchmark(stored_run(key, "forward", 1000.0 * (index + 1)))
        catalog.add_benchmark(stored_run(key, "train", 300.0 * (index + 1)))
    port = free_port()
    log = open(tmp_path_factory.mktemp("server") / "streamlit.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
         "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ, ARCHZOO_DB=str(path)), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start: {Path(log.name).read_text()}") from None
                time.sleep(0.3)
        yield base, frame
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    opened = context.new_page()
    yield opened
    context.close()


def wait_until_idle(page) -> None:
    """Wait until the script run finished: no 'running' status widget, and no stale elements left."""
    page.wait_for_timeout(300)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=60_000)


def drawn_charts(page, expected: int) -> list[dict]:
    """Wait for `expected` charts whose SVGs have size and marks; return them."""
    page.wait_for_function(
        f"() => ({DRAWN_CHARTS})().filter(c => c.width > 0 && c.height > 0 && c.marks > 0).length >= {expected}",
        timeout=60_000)
    return page.evaluate(DRAWN_CHARTS)


def assert_no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def screenshot(page, name: str) -> None:
    """The whole page (Streamlit scrolls inside its main block, so the viewport is stretched to fit it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": min(max(900, height), 12_000)})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.set_viewport_size({"width": 1440, "height": 900})


def click_and_see_chart_change(page, click, chart_index: int = 0) -> None:
    before = page.evaluate(DRAWN_CHARTS)[chart_index]["markup"]
    click()
    wait_until_idle(page)
    page.wait_for_function(
        f"(before) => {{ const c = ({DRAWN_CHARTS})()[{chart_index}]; return c && c.marks > 0 && c.markup !== before; }}",
        arg=before, timeout=30_000)
    assert_no_error(page)


def pill(page, label: str):
    return page.locator('[data-testid="stButtonGroup"] button').filter(has_text=label).first


def rarest_arch(frame) -> str:
    return frame["arch"].value_counts().index[-1]


PAGE_URLS = ["", "trends", "hyperparameters", "explorer", "model?model=gemma-2-9b", "compare?models=t5-11b&models=mixtral-8x7b",
             "benchmarks"]


def no_modal(page) -> bool:
    return page.locator('[role="dialog"]').count() == 0 and page.get_by_text("Page not found").count() == 0


def test_every_page_url_opens_its_page_and_loads_warm_in_seconds(dashboard, page):
    """Each URL the app defines (the root opens /trends) draws without a modal; the second, warm visit is timed
    and the times written beside the screenshots (test-artifacts/load-times.json)."""
    base, _ = dashboard
    times = {}
    for path in PAGE_URLS:
        for visit in ("cold", "warm"):
            start = time.perf_counter()
            page.goto(f"{base}/{path}")
            wait_until_idle(page)
            page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=60_000)
            if not path.startswith("model"):
                drawn_charts(page, 1)
            times[path or "/"] = round(time.perf_counter() - start, 2)
            assert no_modal(page), path
            assert_no_error(page)
        if path == "":
            assert page.url.rstrip("/").endswith("/trends")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load-times.json").write_text(json.dumps(times, indent=2) + "\n")


def test_diagrams_of_an_encoder_decoder_and_a_mixture_of_experts_draw_side_by_side(dashboard, page):
    base, _ = dashboard
    page.goto(f"{base}/compare?models=t5-11b&models=mixtral-8x7b")
    wait_until_idle(page)
    diagrams = page.locator('svg[aria-label$="diagram"]')
    diagrams.first.wait_for(timeout=30_000)
    assert diagrams.count() == 2
    text = diagrams.nth(0).text_content() + diagrams.nth(1).text_content()
    assert "Encoder" in text and "cross-attention" in text and "MoE: 8 experts, top-2" in text
    screenshot(page, "compare-diagrams")


@pytest.mark.parametrize("path", ["trends", "hyperparameters", "explorer"])
def test_chart_pages_draw_and_the_architecture_filter_changes_them(dashboard, page, path):
    base, frame = dashboard
    page.goto(f"{base}/{path}")
    wait_until_idle(page)
    charts = drawn_charts(page, 1)
    assert all(c["marks"] > 0 for c in charts)
    assert_no_error(page)
    screenshot(page, path)
    click_and_see_chart_change(page, pill(page, rarest_arch(frame)).click)
    assert f"arch={rarest_arch(frame)}" in page.url
    screenshot(page, f"{path}-filtered")


def test_model_page_shows_a_record_and_an_unknown_key_says_so(dashboard, page):
    base, frame = dashboard
    key, name = frame["key"].iloc[-1], frame["name"].iloc[-1]
    page.goto(f"{base}/model?model={key}")
    wait_until_idle(page)
    page.get_by_role("heading", name=name).first.wait_for(timeout=30_000)
    page.locator('[data-testid="stCode"]').filter(has_text=f'build("{key}"').first.wait_for(timeout=30_000)
    assert_no_error(page)
    screenshot(page, "model")
    page.goto(f"{base}/model?model=no-such-model")
    wait_until_idle(page)
    page.locator('[data-testid="stAlertContentWarning"]').filter(has_text="no-such-model").wait_for(timeout=30_000)


def test_compare_page_draws_and_adding_a_model_changes_the_chart(dashboard, page):
    base, frame = dashboard
    keys = frame["key"].tolist()
    page.goto(f"{base}/compare?models={keys[0]}&models={keys[-1]}")
    wait_until_idle(page)
    drawn_charts(page, 1)
    assert_no_error(page)
    screenshot(page, "compare")

    def add_third_model():
        field = page.locator('[data-testid="stMultiSelect"] input').first
        field.click()
        name = frame["name"].iloc[len(keys) // 2]
        field.fill(name)
        page.get_by_role("option", name=name, exact=True).click()
        page.keyboard.press("Escape")

    click_and_see_chart_change(page, add_third_model)
    assert page.url.count("models=") == 3


def test_benchmarks_page_draws_stored_runs_and_the_mode_filter_changes_them(dashboard, page):
    base, _ = dashboard
    page.goto(f"{base}/benchmarks")
    wait_until_idle(page)
    drawn_charts(page, 2)
    assert_no_error(page)
    screenshot(page, "benchmarks")
    click_and_see_chart_change(page, pill(page, "train").click)
    assert "mode=train" in page.url
