"""Reports: run and experiment reports are self-contained, hold the promised charts and tables, and
their numbers agree with the catalog."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from dtao.experiment import query, run_sweep
from dtao.report import ReportError, report_experiment, report_run, summarize, write_report
from dtao.report.stats import group_summary, paired_difference
from tests.support.exp import RUN_FN, VALIDATE_FN, small_experiment


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "exp"
    e = small_experiment(replications=3, seeding="common",
                         grid={"chain.emission_rule": ("ema_price", "flow", "root_vote"),
                               "chain.subnet_owner_cut": (0.1, 0.25)})
    run_sweep(e, out, executor="inprocess", run_fn=RUN_FN, validate_fn=VALIDATE_FN)
    return out


def _scripts(html: str) -> list[str]:
    return re.findall(r"<script[^>]*>", html)


def _png_ok(p: Path) -> None:
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(p)
    assert img.shape[0] > 200 and img.shape[1] > 300
    assert float(np.std(img[..., :3])) > 0.01  # not a blank canvas


def test_run_report(experiment: Path, tmp_path: Path) -> None:
    res = report_run(experiment / "runs" / "p0000-r000", tmp_path / "r")
    html = res.html.read_text()
    assert res.kind == "run"
    assert not any("src=" in s for s in _scripts(html))  # plotly.js is inlined, nothing fetched
    assert "Plotly" in html and html.count('class="plotly-graph-div"') == 4
    for section in ("Headline", "Alpha prices", "Emission shares", "Root proportion", "Populations"):
        assert f">{section}</h2>" in html
    names = sorted(p.name for p in res.pngs)
    assert names == ["emission_shares.png", "population_pnl.png", "price_paths.png", "root_proportion.png"]
    for p in res.pngs:
        _png_ok(p)
    # the headline table shows the run's summary
    rec = query(experiment, "SELECT attacker_profit_tao FROM runs WHERE run_id = 'p0000-r000'").iloc[0, 0]
    from dtao.report.html import fmt
    assert f'<td class="t">attacker_profit_tao</td><td>{fmt(float(rec))}</td>' in html


def test_experiment_report(experiment: Path, tmp_path: Path) -> None:
    res = report_experiment(experiment, tmp_path / "e")
    html = res.html.read_text()
    assert res.kind == "experiment"
    assert not any("src=" in s for s in _scripts(html))
    for section in ("Overview", "Emission rules compared", "Metrics against parameters", "Per point"):
        assert f">{section}</h2>" in html
    names = {p.name for p in res.pngs}
    assert {"status.png", "rule_comparison.png"} <= names
    assert any(n.endswith("_vs_chain_subnet_owner_cut.png") for n in names)
    for p in res.pngs:
        _png_ok(p)
    # the comparison table's means are the catalog's
    df = query(experiment, "SELECT chain_emission_rule AS rule, avg(attacker_profit_tao) AS m, count(*) AS n "
                           "FROM runs WHERE status = 'done' GROUP BY 1")
    from dtao.report.html import fmt
    for r in df.itertuples():
        assert f'<td class="t">{r.rule}</td><td>{r.n}</td><td>{fmt(float(r.m))}</td>' in html
    assert "paired differences" in html and "flow - ema_price" in html
    assert "Pooled over the other varied parameters (chain.subnet_owner_cut)" in html


def test_write_report_dispatch(experiment: Path, tmp_path: Path) -> None:
    assert write_report(experiment, tmp_path / "a").kind == "experiment"
    assert write_report(experiment / "runs" / "p0001-r002", tmp_path / "b").kind == "run"
    with pytest.raises(ReportError, match="neither a run folder"):
        write_report(tmp_path)


def test_experiment_report_with_failures_and_no_rule_axis(tmp_path: Path) -> None:
    out = tmp_path / "x"
    e = small_experiment(replications=2, grid={"chain.subnet_owner_cut": (0.1, 0.2, 0.3), "test.fail": (False, True)})
    run_sweep(e, out, executor="inprocess", run_fn=RUN_FN, validate_fn=VALIDATE_FN)
    res = report_experiment(out)
    html = res.html.read_text()
    assert ">Failed runs</h2>" in html and "injected failure" in html
    assert ">Emission rules compared</h2>" not in html
    assert ">Metrics against parameters</h2>" in html


def test_summarize_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 1.5, 40)
    s = summarize(np.append(x, np.nan))
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert s.n == 40 and s.mean == pytest.approx(x.mean()) and s.std == pytest.approx(x.std(ddof=1))
    assert (s.ci_low, s.ci_high) == pytest.approx((lo, hi))
    assert (s.q10, s.q50, s.q90) == pytest.approx(tuple(np.quantile(x, [0.1, 0.5, 0.9])))
    assert summarize([]).n == 0 and np.isnan(summarize([1.0]).ci_low)


def test_group_and_paired_statistics() -> None:
    df = pd.DataFrame({"rule": ["a", "a", "a", "b", "b", "b"], "seed": [1, 2, 3, 1, 2, 3],
                       "m": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5]})
    g = group_summary(df, "rule", "m").set_index("rule")
    assert g.loc["a", "mean"] == 2.0 and g.loc["b", "mean"] == 2.5 and g.loc["a", "n"] == 3
    d = paired_difference(df, "rule", "m", "a").iloc[0]
    assert d["n_pairs"] == 3 and d["mean_diff"] == pytest.approx(0.5)
    assert d["ci_low"] == pytest.approx(0.5) and d["ci_high"] == pytest.approx(0.5)  # same shift on every seed
