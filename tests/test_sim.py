"""The driver: run folder contents and column names, determinism, horizons, events, CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from dtao.scenario import ScenarioError, load_scenario
from dtao.sim import run_scenario

TINY = {
    "initial": {"kind": "synthetic", "n_subnets": 5, "n_uids": 20, "root_validators": 4,
                "subnets": [{"netuid": 3, "price_quantile": 0.5, "root_validators": False}]},
    "horizon": {"blocks": 1800, "record_every": 100},
}
SUBNET_COLUMNS = {"block", "day", "netuid", "price", "moving_price", "tao_reserve", "alpha_reserve", "alpha_out",
                  "emission_share", "tao_in", "alpha_in", "root_proportion", "market_cap"}
SUMMARY_KEYS = {"days", "blocks", "seed", "final_total_issuance", "n_subnets", "root_proportion_mean_final",
                "root_stakers_apy", "h2e_emission_share_max", "h2e_emission_share_mean", "attacker_profit_tao",
                "quality_emission_corr", "price_peak_ratio", "price_drop_after_intervention"}


def tiny_sn28(**extra) -> object:
    agents = load_scenario("sn28").model_dump()["agents"]
    for k in ("holders", "sn28_validator", "foundation"):
        agents[k]["netuid"] = 3
    agents["early_holders"]["netuids"] = [3]
    agents["owners"]["exclude_netuids"] = [3]
    agents["holders"]["count"] = 10
    agents["holders"]["arrival_days"] = 0.05
    return load_scenario("sn28", {**TINY, "agents": agents, "events.0.at_day": 0.15, **extra})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("run") / "r"
    res = run_scenario(tiny_sn28(), seed=5, out_dir=out)
    return out, res


def test_run_folder_files_and_columns(run_dir: tuple[Path, object]) -> None:
    out, res = run_dir
    assert res.out_dir == out
    for f in ("metadata.json", "summary.json", "subnets.parquet", "agents.parquet", "events.parquet",
              "network.parquet", "prices.png", "emission_shares.png", "root_proportion.png", "population_pnl.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    assert not list(out.parent.glob(".r.tmp-*"))
    sub = pq.read_table(out / "subnets.parquet").to_pandas()
    assert SUBNET_COLUMNS <= set(sub.columns)
    assert set(sub.netuid) == {1, 2, 3, 4, 5}
    assert sub.block.min() == res.metadata["start_block"] and sub.day.max() == pytest.approx(1800 / 7200)
    assert np.allclose(sub.market_cap, sub.price * (sub.alpha_reserve + sub.alpha_out))
    last = sub[sub.block == sub.block.max()]
    assert last.emission_share.sum() == pytest.approx(1.0)
    ag = pq.read_table(out / "agents.parquet").to_pandas()
    assert {"block", "day", "population", "kind", "value_tao", "pnl_tao", "free_tao", "alpha_value_tao"} <= set(ag.columns)
    assert set(ag.population) == set(res.summary["populations"])
    ev = pq.read_table(out / "events.parquet").to_pandas()
    assert {"block", "kind", "netuid", "detail"} <= set(ev.columns)
    iv = ev[ev.kind == "intervention"]
    assert len(iv) == 1 and iv.netuid.iloc[0] == 3 and "stake_share" in json.loads(iv.detail.iloc[0])
    summ = json.loads((out / "summary.json").read_text())
    assert SUMMARY_KEYS <= set(summ)
    assert summ["conservation_ok"] and summ["seed"] == 5 and summ["blocks"] == 1800
    assert summ["h2e_netuid"] == 3 and summ["h2e_emission_share_max"] > 0
    assert summ["price_drop_after_intervention"] is not None and summ["intervention_netuid"] == 3
    for name, p in summ["populations"].items():
        assert summ[f"pnl_{name}"] == p["pnl_tao"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 5 and meta["dtao_version"] and meta["scenario"]["name"] == "sn28"
    assert meta["scenario"]["events"][0]["at_day"] == 0.15  # the scenario as run, overrides included


def test_same_seed_same_bits_and_other_seed_differs(run_dir: tuple[Path, object], tmp_path: Path) -> None:
    out, _ = run_dir
    again = run_scenario(tiny_sn28(), seed=5, out_dir=tmp_path / "again", record_plots=False)
    for f in ("subnets.parquet", "agents.parquet", "events.parquet", "network.parquet"):
        assert pq.read_table(out / f).equals(pq.read_table(again.out_dir / f)), f
    a = json.loads((out / "summary.json").read_text())
    b = json.loads((again.out_dir / "summary.json").read_text())
    a.pop("wall_seconds"), b.pop("wall_seconds")
    assert a == b
    other = run_scenario(tiny_sn28(), seed=6, record_plots=False)
    assert other.out_dir is None
    assert other.summary["final_total_issuance"] != a["final_total_issuance"] or \
        other.summary["populations"]["holders"]["pnl_tao"] != a["populations"]["holders"]["pnl_tao"]


def test_horizon_overrides_and_errors() -> None:
    sc = tiny_sn28()
    r = run_scenario(sc, blocks=250, record_plots=False)
    assert r.summary["blocks"] == 250 and r.state.block == r.summary["start_block"] + 250
    r = run_scenario(sc, days=0.01, record_plots=False)
    assert r.summary["blocks"] == 72
    with pytest.raises(ScenarioError, match="not both"):
        run_scenario(sc, days=1, blocks=5)
    with pytest.raises(ScenarioError, match="blocks"):
        run_scenario(sc, blocks=0)
    with pytest.raises(ScenarioError, match="days"):
        run_scenario(sc, days=float("nan"))
    with pytest.raises(ScenarioError, match="seed"):
        run_scenario(sc, seed=-1)


def test_events_change_the_chain_and_the_world() -> None:
    events = [
        {"kind": "set_params", "at_block": 300, "params": {"emission_rule": "flow"}},
        {"kind": "set_hyper", "at_block": 400, "netuid": 2, "params": {"tempo": 99}},
        {"kind": "quality", "at_block": 500, "netuid": 1, "params": {"value": 7.0}},
        {"kind": "revenue", "at_day": 0.1, "netuid": 4, "params": {"tao_per_day": 11.0}},
        {"kind": "intervention", "when": {"netuid": 3, "rank_at_most": 5}, "population": "f"},
    ]
    sc = load_scenario("sn28", {**TINY, "agents": {"v": {"kind": "validators"},
                                                    "f": {"kind": "foundation", "netuid": 3}},
                                "events": events, "horizon.blocks": 900})
    r = run_scenario(sc, record_plots=False)
    st = r.state
    assert st.params.emission_rule == "flow" and st.hyper[2].tempo == 99
    assert r.summary["events_fired"] == 5
    assert r.summary["intervention_block"] == r.summary["start_block"]  # rank <= 5 of 5 holds at once


def test_trigger_waits_for_its_condition_and_deadline() -> None:
    ev = {"kind": "intervention", "when": {"netuid": 3, "price_ratio_above": 100.0}, "population": "f",
          "deadline_day": 0.05}
    sc = load_scenario("sn28", {**TINY, "agents": {"f": {"kind": "foundation", "netuid": 3}}, "events": [ev],
                                "horizon.blocks": 720})
    r = run_scenario(sc, record_plots=False)
    assert r.summary["intervention_block"] == r.summary["start_block"] + 360  # never 100x: fired at the deadline


def test_every_builtin_scenario_conserves_tao_and_alpha() -> None:
    """Short runs of each built-in scenario (the full horizons run in test_episodes / by hand)."""
    for name in ("launch", "sn28", "sn28-late", "root-transition", "buyback", "death-spiral", "apy-trap"):
        r = run_scenario(load_scenario(name), blocks=7200, record_plots=False)
        assert r.summary["conservation_ok"], name
        assert r.summary["orders_total"] > 0, name


def test_cli_run_writes_the_folder(tmp_path: Path) -> None:
    from dtao.cli import app

    p = tmp_path / "tiny.toml"
    p.write_text("""
name = "tiny"
seed = 1
[initial]
kind = "synthetic"
n_subnets = 3
n_uids = 20
root_validators = 4
[horizon]
days = 1
record_every = 60
[agents.v]
kind = "validators"
[agents.m]
kind = "momentum"
count = 4
""")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(p), "--blocks", "240", "--seed", "3", "--out", str(out), "--set",
                                 "agents.m.count=6", "--set", "chain.tao_weight=0.1", "--no-plots", "--quiet"])
    assert r.exit_code == 0, r.output
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["seed"] == 3 and meta["blocks"] == 240
    assert meta["scenario"]["agents"]["m"]["count"] == 6 and meta["scenario"]["chain"]["tao_weight"] == 0.1
    assert '"conservation_ok": true' in r.output
    r = CliRunner().invoke(app, ["run", str(p), "--days", "1", "--blocks", "3", "--quiet"])
    assert r.exit_code == 2 and "not both" in r.output
    r = CliRunner().invoke(app, ["run", str(p), "--set", "agents.m.count=-2", "--quiet"])
    assert r.exit_code == 2 and "agents.m.count" in r.output


def test_docs_list_every_column_and_summary_key(run_dir: tuple[Path, object]) -> None:
    out, res = run_dir
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scenarios.md").read_text()
    for f in ("subnets.parquet", "agents.parquet", "network.parquet", "events.parquet"):
        for col in pq.read_schema(out / f).names:
            assert f"`{col}`" in doc, (f, col)
    for key in res.summary:
        if key.startswith("pnl_"):
            continue
        assert f"`{key}`" in doc, key


def test_long_run_gc_restores_the_collector() -> None:
    """A run moves the objects alive at its start out of the cyclic collector's generations and puts
    them back when the last nested run ends, also after an error inside; a program's own freeze stays."""
    import gc

    from dtao.sim.driver import long_run_gc

    assert gc.get_freeze_count() == 0
    try:
        with long_run_gc():
            assert gc.get_freeze_count() > 0
            with long_run_gc():
                pass
            assert gc.get_freeze_count() > 0  # (the inner run did not undo it)
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0
    gc.freeze()  # a program that froze its own objects
    try:
        mine = gc.get_freeze_count()
        with long_run_gc():
            pass
        assert gc.get_freeze_count() == mine
    finally:
        gc.unfreeze()
