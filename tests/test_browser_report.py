"""The HTML reports open in headless Chromium: no console errors, every chart rendered, screenshots
saved under test-artifacts/.  Chromium is installed with apt when absent (as root); the test is
skipped, saying why, only where that is impossible."""
from __future__ import annotations

from pathlib import Path

import pytest

from dtao.experiment import run_sweep
from dtao.report import report_experiment, report_run
from tests.support.chromium import ensure_chromium, load_page
from tests.support.exp import RUN_FN, VALIDATE_FN, small_experiment

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

CHECKS = {
    "graph_divs": "document.querySelectorAll('.plotly-graph-div').length",
    "rendered": "Array.from(document.querySelectorAll('.plotly-graph-div')).filter("
                "d => d._fullLayout && d.querySelector('.plot-container .main-svg')).length",
    "traces_drawn": "Array.from(document.querySelectorAll('.plotly-graph-div')).filter("
                    "d => d.querySelector('.trace') || d.querySelector('.gl-container canvas')).length",
    "offline": "Array.from(document.scripts).every(s => !s.src)",
    "sections": "Array.from(document.querySelectorAll('section h2')).map(h => h.textContent)",
    "dom": "document.documentElement.outerHTML.length",
}
READY = ("document.querySelectorAll('.plotly-graph-div').length > 0 && "
         "Array.from(document.querySelectorAll('.plotly-graph-div')).every(d => d._fullLayout)")


@pytest.fixture(scope="module")
def chromium() -> str:
    path, why = ensure_chromium()
    if path is None:
        pytest.skip(f"browser test skipped: {why}")
    return path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("browser") / "exp"
    e = small_experiment(replications=2, grid={"chain.emission_rule": ("ema_price", "flow", "root_vote"),
                                               "chain.subnet_owner_cut": (0.1, 0.2)})
    run_sweep(e, out, executor="inprocess", run_fn=RUN_FN, validate_fn=VALIDATE_FN)
    return {"experiment": report_experiment(out).html, "run": report_run(out / "runs" / "p0000-r000").html}


@pytest.mark.slow  # starts Chromium
@pytest.mark.parametrize("kind, n_charts, sections", [
    ("run", 4, ["Headline", "Alpha prices", "Emission shares", "Root proportion", "Populations"]),
    ("experiment", 4, ["Overview", "Emission rules compared", "Metrics against parameters", "Per point"]),
])
def test_report_renders_in_chromium(chromium: str, reports: dict[str, Path], kind: str, n_charts: int,
                                    sections: list[str]) -> None:
    res = load_page(chromium, reports[kind].as_uri(), CHECKS, wait_expression=READY)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"report_{kind}.png"
    shot.write_bytes(res.screenshot)
    assert res.errors == [], res.errors
    v = res.values
    assert v["_ready"] is True
    assert v["graph_divs"] >= n_charts
    assert v["rendered"] == v["graph_divs"]  # every chart drew its SVG
    assert v["traces_drawn"] == v["graph_divs"]  # and its data
    assert v["offline"] is True
    assert [s for s in sections if s not in v["sections"]] == []
    assert res.screenshot[:8] == b"\x89PNG\r\n\x1a\n" and len(res.screenshot) > 20_000
