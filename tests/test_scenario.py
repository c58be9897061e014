"""Scenario files: loading, validation errors that name the field, overrides, initial states."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dtao.chain.invariants import check_invariants
from dtao.chain.snapshot import save
from dtao.chain.state import ROOT
from dtao.scenario import ScenarioError, builtin_names, load_scenario, parse_value
from dtao.scenario.build import build
from dtao.scenario.networks import LAUNCH_FIGURES

BUILTIN = ("launch", "sn28", "sn28-late", "root-transition", "buyback", "death-spiral", "apy-trap",
           "adverse-selection")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "history" / "chain_params_at_launch.json"

MINIMAL = """
name = "mini"
seed = 4
[initial]
kind = "synthetic"
n_subnets = 3
n_uids = 20
root_validators = 4
[horizon]
days = 0.1
[agents.v]
kind = "validators"
[agents.m]
kind = "momentum"
count = 3
"""


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_scenarios_load_and_have_a_comment(name: str) -> None:
    assert name in builtin_names()
    sc = load_scenario(name)
    assert sc.name == name
    assert sc.horizon.n_blocks > 0 and sc.agents
    from dtao.scenario.loader import builtin_dir

    text = (builtin_dir() / f"{name}.toml").read_text()
    assert text.startswith("# "), "each built-in scenario starts with a comment saying what it shows"


def test_builtin_loads_from_any_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_scenario("sn28").name == "sn28"


def test_scenario_is_frozen() -> None:
    sc = load_scenario("sn28")
    with pytest.raises(Exception):
        sc.seed = 3  # type: ignore[misc]
    with pytest.raises(Exception):
        sc.horizon.days = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("patch, field", [
    ("[agents.m]\nkind = \"momentum\"\ncount = -3", "agents.m.count"),
    ("[agents.m]\nkind = \"momentum\"\ncount = 3\nthreshhold = 0.2", "agents.m.threshhold"),
    ("[agents.m]\nkind = \"telepathy\"", "agents.m"),
    ("[agents.m]\nkind = \"momentum\"\nbudget_tao = \"lots\"", "agents.m.budget_tao"),
])
def test_bad_agent_fields_are_named(tmp_path: Path, patch: str, field: str) -> None:
    text = MINIMAL.split("[agents.m]")[0] + patch + "\n"
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, text))
    assert field in str(e.value)


@pytest.mark.parametrize("old, new, needle", [
    ("days = 0.1", "days = 0.1\nblocks = 5", "horizon: give exactly one of days and blocks"),
    ("days = 0.1", "days = -1", "horizon.days"),
    ("n_subnets = 3", "n_subnets = 0", "initial.n_subnets"),
    ("kind = \"synthetic\"", "kind = \"mainnet\"", "initial"),
    ("seed = 4", "seed = 4\n[chain]\ntao_wieght = 0.1", "chain: Value error, unknown chain parameter 'tao_wieght'"),
    ("seed = 4", "seed = 4\n[chain]\ntao_weight = 3.0", "tao_weight"),
    ("seed = 4", "seed = 4\n[chain]\nemission_rule = \"vibes\"", "emission_rule"),
    ("n_uids = 20", "n_uids = 5", "n_uids (5) must leave room"),
])
def test_bad_fields_are_named(tmp_path: Path, old: str, new: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as e:
        load_scenario(write(tmp_path, MINIMAL.replace(old, new, 1)))
    assert needle.replace("Value error, ", "") in str(e.value)


def test_bad_events_are_named(tmp_path: Path) -> None:
    bad = MINIMAL + "[[events]]\nkind = \"intervention\"\nat_day = 1\npopulation = \"nobody\"\n"
    with pytest.raises(ScenarioError, match=r"events\.0\.population: no agent population named 'nobody'"):
        load_scenario(write(tmp_path, bad))
    bad = MINIMAL + "[[events]]\nkind = \"intervention\"\nat_day = 1\npopulation = \"m\"\n"
    with pytest.raises(ScenarioError, match="not a foundation"):
        load_scenario(write(tmp_path, bad))
    bad = MINIMAL + "[[events]]\nkind = \"set_params\"\nat_day = 1\nparams = { subnet_moving_alpha = 7 }\n"
    with pytest.raises(ScenarioError, match=r"events\.0.*subnet_moving_alpha"):
        load_scenario(write(tmp_path, bad))
    bad = MINIMAL + "[[events]]\nkind = \"quality\"\nnetuid = 1\n"
    with pytest.raises(ScenarioError, match="exactly one of at_day, at_block and when"):
        load_scenario(write(tmp_path, bad))


def test_not_toml_and_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "name = [unclosed"))
    with pytest.raises(ScenarioError, match="unknown scenario 'sn99'.*built-in scenarios: .*sn28"):
        load_scenario("sn99")
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "missing.toml")


def test_overrides_apply_and_validate(tmp_path: Path) -> None:
    p = write(tmp_path, MINIMAL)
    sc = load_scenario(p, {"chain.tao_weight": 0.1, "horizon.blocks": 50, "seed": 9, "agents.m.count": 7})
    assert sc.chain_params().tao_weight == 0.1
    assert sc.horizon.blocks == 50 and sc.horizon.days is None  # days dropped for blocks
    assert sc.seed == 9 and sc.agents["m"].count == 7
    sc = load_scenario("sn28", {"events.0.at_day": 1.5})
    assert sc.events[0].at_day == 1.5
    with pytest.raises(ScenarioError, match="agents.m.cunt"):
        load_scenario(p, {"agents.m.cunt": 2})
    with pytest.raises(ScenarioError, match="agents.m.count"):
        load_scenario(p, {"agents.m.count": -1})
    with pytest.raises(ScenarioError, match="events.5"):
        load_scenario("sn28", {"events.5.at_day": 1})
    with pytest.raises(ScenarioError, match="seed"):
        load_scenario(p, {"seed.x": 1})


def test_parse_value() -> None:
    assert parse_value("0.1") == 0.1 and parse_value("7") == 7 and parse_value("true") is True
    assert parse_value('"flow"') == "flow" and parse_value("flow") == "flow"
    assert parse_value("[1, 2]") == [1, 2]


def test_launch_2025_has_the_launch_figures() -> None:
    sc = load_scenario("launch", {"agents": {}})
    w = build(sc)
    st = w.state
    ids = st.subnet_netuids
    assert ids.size == 64
    assert np.all(st.tao_reserve[ids] == 1.0) and np.all(st.alpha_reserve[ids] == 1.0)
    assert np.all(st.alpha_out[ids] == 0.0)
    assert st.moving_price[ids].sum() == pytest.approx(1.0)  # pre-dTAO emission shares
    assert np.all(st.first_emission_block[ids] >= 0)
    assert st.tao_reserve[ROOT] == pytest.approx(6_000_000.0)
    assert st.total_issuance == pytest.approx(8_380_000.0)
    assert st.params.tao_weight == pytest.approx(0.18, abs=1e-4)
    check_invariants(st)
    if SHARED.exists():  # the figures agree with the shipped history data
        ref = json.loads(SHARED.read_text())
        assert LAUNCH_FIGURES["root_tao_at_launch_est"] == ref["root_tao_at_launch_est"]["value"]
        assert LAUNCH_FIGURES["tao_issued_at_launch_est"] == ref["tao_issued_at_launch_est"]["value"]
        assert LAUNCH_FIGURES["subnets_at_launch"] == ref["subnets_at_launch"]["value"]
        assert LAUNCH_FIGURES["tao_weight"] == pytest.approx(ref["tao_weight"]["value"], abs=1e-6)
        assert LAUNCH_FIGURES["initial_pool_tao"] == ref["initial_pool_per_subnet"]["value"]["tao"]


def test_launch_budget_overflow_is_reported() -> None:
    sc = load_scenario("launch", {"agents": {"rich": {"kind": "value", "count": 10, "budget_tao": 1e6}}})
    with pytest.raises(ScenarioError, match="initial.total_issuance"):
        build(sc)


def test_synthetic_root_proportion_and_price_quantile(tmp_path: Path) -> None:
    sc = load_scenario("sn28-late", {"agents": {}, "events": []})
    w = build(sc, seed=1)
    st = w.state
    from dtao.chain.coinbase import root_proportion

    rp = root_proportion(st, st.subnet_netuids)
    assert np.allclose(rp, 0.2, atol=1e-9)
    p = np.asarray(st.spot_price())[st.subnet_netuids]
    others = np.delete(p, 27)
    assert p[27] == pytest.approx(np.quantile(others, 0.45))
    check_invariants(st)


def test_build_is_deterministic_and_seeded() -> None:
    sc = load_scenario("sn28")
    a, b, c = build(sc, seed=3), build(sc, seed=3), build(sc, seed=4)
    assert np.array_equal(a.state.tao_reserve, b.state.tao_reserve)
    assert np.array_equal(a.state.balance, b.state.balance)
    assert not np.array_equal(a.state.tao_reserve, c.state.tao_reserve)


def test_snapshot_initial_state(tmp_path: Path) -> None:
    w = build(load_scenario("sn28", {"agents": {}, "events": []}), seed=2)
    save(w.state, tmp_path / "state.json")
    text = MINIMAL.replace('kind = "synthetic"\nn_subnets = 3\nn_uids = 20\nroot_validators = 4',
                           'kind = "snapshot"\npath = "state.json"')
    sc = load_scenario(write(tmp_path, text))
    w2 = build(sc)
    assert np.array_equal(w2.state.tao_reserve, w.state.tao_reserve)
    assert w2.roles.foundation == w.roles.foundation
    assert w2.start_block == w.state.block
    bad = text.replace("state.json", "nope.json")
    with pytest.raises(ScenarioError, match="initial.path"):
        build(load_scenario(write(tmp_path, bad, "b.toml")))


def test_cli_bad_file_exits_2(tmp_path: Path) -> None:
    from dtao.cli import app

    p = write(tmp_path, MINIMAL.replace("count = 3", "count = -3"))
    r = CliRunner().invoke(app, ["run", str(p), "--quiet", "--out", str(tmp_path / "out")])
    assert r.exit_code == 2
    assert "agents.m.count" in r.output
    r = CliRunner().invoke(app, ["run", str(write(tmp_path, MINIMAL, "ok.toml")), "--set", "agents.m.count", "--quiet"])
    assert r.exit_code == 2 and "dotted.key=value" in r.output
    r = CliRunner().invoke(app, ["run", "nosuch", "--quiet"])
    assert r.exit_code == 2 and "unknown scenario" in r.output
    assert not (tmp_path / "out").exists()
