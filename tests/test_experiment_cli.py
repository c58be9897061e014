"""The command line: dtao sweep (plan, errors, exit codes), dtao query, dtao report."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dtao.cli import app
from dtao.experiment import run_sweep
from tests.support.exp import RUN_FN, VALIDATE_FN, small_experiment

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "exp"
    e = small_experiment(grid={"chain.emission_rule": ("ema_price", "flow"), "test.fail": (False, True)})
    run_sweep(e, out, executor="inprocess", run_fn=RUN_FN, validate_fn=VALIDATE_FN)
    return out


def test_query_table_csv_json(store: Path) -> None:
    r = runner.invoke(app, ["query", str(store), "SELECT status, count(*) AS n FROM runs GROUP BY 1 ORDER BY 1",
                            "--format", "csv"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines() == ["status,n", "done,4", "failed,4"]
    r = runner.invoke(app, ["query", str(store), "SELECT run_id, seed FROM runs ORDER BY run_id LIMIT 2", "-f", "json"])
    rows = json.loads(r.output)
    assert [x["run_id"] for x in rows] == ["p0000-r000", "p0000-r001"] and rows[0]["seed"] != rows[1]["seed"]
    r = runner.invoke(app, ["query", str(store), "SELECT run_id, chain_emission_rule, status FROM runs"])
    assert r.exit_code == 0 and "p0003-r001" in r.output and "ema_price" in r.output
    r = runner.invoke(app, ["query", str(store)])  # default: run status with errors
    assert "injected failure" in r.output


def test_query_errors_exit_2(store: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["query", str(store), "SELECT nope FROM runs"])
    assert r.exit_code == 2 and "nope" in r.output and "tables: runs" in r.output
    r = runner.invoke(app, ["query", str(tmp_path), "SELECT 1"])
    assert r.exit_code == 2 and "not an experiment folder" in r.output
    r = runner.invoke(app, ["query", str(store), "SELECT 1", "-f", "xml"])
    assert r.exit_code == 2 and "--format" in r.output


def test_sweep_plan_prints_points_and_seeds() -> None:
    r = runner.invoke(app, ["sweep", "--scenario", "launch", "--grid", "chain.emission_rule=ema_price,flow",
                            "--set", "chain.tao_weight=0.1", "--replications", "3", "--seed", "7", "--plan"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert "2 points x 3 replications = 6 runs" in lines[0] and "seed 7" in lines[0]
    assert sum(1 for x in lines if x.strip().startswith("p000")) == 6
    seeds = {x.split()[2] for x in lines[1:]}
    assert len(seeds) == 6


@pytest.mark.parametrize("args, message", [
    (["sweep"], "give an EXPERIMENT"),
    (["sweep", "no-such-experiment"], "no built-in experiment of that name"),
    (["sweep", "--scenario", "launch", "--executor", "threads"], "--executor must be"),
    (["sweep", "--scenario", "launch", "--executor", "dask"], "needs --scheduler"),
    (["sweep", "--scenario", "launch", "--grid", "chain.tao_weight"], "--grid expects KEY=VALUE"),
    (["sweep", "--scenario", "launch", "--replications", "0", "--plan"], "replications must be an integer >= 1"),
])
def test_sweep_bad_input_exit_2(args: list[str], message: str) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert message in r.output


def test_sweep_refuses_existing_store_without_resume(store: Path) -> None:
    r = runner.invoke(app, ["sweep", "--scenario", "launch", "--out", str(store), "--quiet"])
    assert r.exit_code == 2 and "already holds an experiment" in r.output


def test_sweep_query_report_end_to_end(tmp_path: Path) -> None:
    """The shipped path: dtao sweep with the real scenario layer, then query and report."""
    from tests.support.exp import SCENARIO

    out = tmp_path / "e2e"
    args = ["sweep", "--scenario", SCENARIO, "--grid", "chain.emission_rule=ema_price,flow",
            "--set", "horizon.record_every=60", "--replications", "2", "--days", "0.05", "--seed", "5",
            "--executor", "inprocess", "--out", str(out), "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "4 done, 0 failed of 4 runs" in r.output
    r = runner.invoke(app, ["query", str(out), "SELECT chain_emission_rule, count(*) AS n, "
                            "count(DISTINCT seed) AS seeds, min(h2e_netuid) AS h2e FROM runs GROUP BY 1 ORDER BY 1",
                            "-f", "csv"])
    assert r.output.splitlines() == ["chain_emission_rule,n,seeds,h2e", "ema_price,2,2,2", "flow,2,2,2"]
    r = runner.invoke(app, args[:-3] + ["--out", str(out), "--resume", "--quiet"])  # nothing left to do
    assert r.exit_code == 0 and "(0 run now, 4 already finished)" in r.output
    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0 and (out / "report" / "rule_comparison.png").is_file()


def test_report_command(store: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["report", str(store), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert "experiment report" in r.output and (tmp_path / "rep" / "report.html").is_file()
    r = runner.invoke(app, ["report", str(store / "runs" / "p0000-r000")])
    assert r.exit_code == 0 and (store / "runs" / "p0000-r000" / "report" / "report.html").is_file()
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "neither a run folder" in r.output
