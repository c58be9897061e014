"""Experiment definitions and plans: TOML/flags parsing, validation messages, designs, seeds."""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtao.experiment import (Experiment, ExperimentError, ParamRange, SampleSpec, builtin_experiments,
                             experiment_from_flags, load_experiment, make_plan, run_seed)
from dtao.experiment.spec import parse_value, split_list

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_toml_experiment_roundtrip(tmp_path: Path) -> None:
    scen = write(tmp_path, "[chain]\n", "base.toml")
    p = write(tmp_path, f"""
        [experiment]
        name = "demo"
        scenario = "{scen.name}"
        seed = 11
        replications = 3
        days = 2.5

        [overrides.chain]
        tao_weight = 0.1

        [grid]
        "chain.emission_rule" = ["ema_price", "flow"]

        [sample]
        method = "lhs"
        n = 5
        [sample.parameters]
        "chain.subnet_moving_alpha" = {{ low = 1e-6, high = 1e-4, scale = "log" }}
        "agents.h2e.count" = {{ low = 1, high = 4, type = "int" }}
        "chain.flow_cutoff" = {{ choices = [0.0, 0.5] }}

        [report]
        metrics = ["attacker_profit_tao"]
        """)
    e = load_experiment(p)
    assert e.name == "demo" and e.seed == 11 and e.replications == 3 and e.days == 2.5
    assert e.scenario == str(scen.resolve())  # relative to the experiment file
    assert e.overrides == {"chain.tao_weight": 0.1}
    assert e.grid == {"chain.emission_rule": ("ema_price", "flow")}
    assert e.sample is not None and e.sample.method == "lhs" and e.sample.n == 5
    assert [q.key for q in e.sample.parameters] == ["chain.subnet_moving_alpha", "agents.h2e.count",
                                                    "chain.flow_cutoff"]
    assert e.n_points == 10 and e.n_runs == 30
    assert e.report_metrics == ("attacker_profit_tao",)
    from dtao.experiment.spec import experiment_from_json
    assert experiment_from_json(e.to_json()) == e


@pytest.mark.parametrize("body, message", [
    ('[experiment]\nname="x"\n', "needs scenario"),
    ('[experiment]\nscenario="launch"\nreplications=0\n', "replications must be an integer >= 1"),
    ('[experiment]\nscenario="launch"\nseed=-1\n', "seed must be a non-negative integer"),
    ('[experiment]\nscenario="launch"\ndays=1\nblocks=10\n', "either days or blocks"),
    ('[experiment]\nscenario="launch"\nrepetitions=3\n', "unknown key(s) in [experiment]: repetitions"),
    ('[experiment]\nscenario="launch"\n[grid]\n"chain.tao_weight"=0.1\n', "grid.chain.tao_weight must be a list"),
    ('[experiment]\nscenario="launch"\n[grid]\n"chain.tao_weight"=[]\n', "non-empty list"),
    ('[experiment]\nscenario="launch"\n[grid]\n"chain.tao_weight"=[0.1, 0.1]\n', "lists a value twice"),
    ('[experiment]\nscenario="launch"\n[overrides]\n"chain.tao_weight"=0.1\n[grid]\n"chain.tao_weight"=[0.2]\n',
     "both fixed in [overrides] and varied in [grid]"),
    ('[experiment]\nscenario="launch"\n[sample]\nmethod="sobol"\nn=10\n[sample.parameters]\n'
     '"chain.tao_weight"={low=0.0, high=0.3}\n', "power of two to keep its balance (got 10); use 8 or 16"),
    ('[experiment]\nscenario="launch"\n[sample]\nmethod="grid"\nn=4\n[sample.parameters]\n'
     '"chain.tao_weight"={low=0.0, high=0.3}\n', "sample.method must be one of"),
    ('[experiment]\nscenario="launch"\n[sample]\nmethod="lhs"\nn=4\n[sample.parameters]\n'
     '"chain.tao_weight"={low=0.3, high=0.1}\n', "low (0.3) must be below high (0.1)"),
    ('[experiment]\nscenario="launch"\n[sample]\nmethod="lhs"\nn=4\n[sample.parameters]\n'
     '"chain.tao_weight"={low=0.0, high=0.3, scale="log"}\n', "log scale needs low > 0"),
    ('[experiment]\nscenario="missing/base.toml"\n', "scenario file not found"),
    ('[experiment\nscenario="launch"\n', "not valid TOML"),
    ('[experiment]\nscenario="launch"\nseeding="shared"\n', "seeding must be one of"),
])
def test_bad_experiment_files_name_the_problem(tmp_path: Path, body: str, message: str) -> None:
    p = write(tmp_path, body)
    with pytest.raises(ExperimentError) as ei:
        load_experiment(p)
    assert message in str(ei.value)


def test_unknown_experiment_name_lists_builtins() -> None:
    with pytest.raises(ExperimentError, match="no built-in experiment of that name"):
        load_experiment("no-such-experiment")


def test_flags_build_and_override_an_experiment() -> None:
    e = experiment_from_flags(None, scenario="launch", sets=["chain.tao_weight=0.1", "horizon.note=hello"],
                              grids=["chain.emission_rule=ema_price,flow,root_vote", "chain.subnet_owner_cut=0.1,0.2"],
                              seed=3, replications=4, days=7)
    assert e.scenario == "launch" and e.seed == 3 and e.replications == 4 and e.days == 7
    assert e.overrides == {"chain.tao_weight": 0.1, "horizon.note": "hello"}
    assert e.grid == {"chain.emission_rule": ("ema_price", "flow", "root_vote"), "chain.subnet_owner_cut": (0.1, 0.2)}
    e2 = experiment_from_flags(e, sets=["chain.subnet_owner_cut=0.3"], sample="sobol:8",
                               ranges=["chain.subnet_moving_alpha=1e-6:1e-4:log", "agents.n=1:5:int",
                                       "chain.flow_cutoff=0|0.5"])
    assert "chain.subnet_owner_cut" not in e2.grid and e2.overrides["chain.subnet_owner_cut"] == 0.3
    assert e2.sample == SampleSpec("sobol", 8, (
        ParamRange("chain.subnet_moving_alpha", 1e-6, 1e-4, "log"), ParamRange("agents.n", 1.0, 5.0, type="int"),
        ParamRange("chain.flow_cutoff", choices=(0, 0.5))))
    with pytest.raises(ExperimentError, match="--grid expects KEY=VALUE"):
        experiment_from_flags(e, grids=["chain.emission_rule"])
    with pytest.raises(ExperimentError, match="--sample expects METHOD:N"):
        experiment_from_flags(e, sample="lhs", ranges=["a.b=0:1"])
    with pytest.raises(ExperimentError, match="needs --sample"):
        experiment_from_flags(e, ranges=["a.b=0:1"])


def test_value_parsing() -> None:
    assert parse_value("0.1") == 0.1 and parse_value("3") == 3 and parse_value("true") is True
    assert parse_value("flow") == "flow" and parse_value('"x,y"') == "x,y" and parse_value("[1, 2]") == [1, 2]
    assert split_list('a, "b,c", [1,2], 3') == ["a", '"b,c"', "[1,2]", "3"]


def test_grid_plan_order_and_ids() -> None:
    e = Experiment(name="g", scenario="launch", seed=1, replications=2,
                   grid={"a.x": (1, 2, 3), "b.y": ("p", "q")})
    plan = make_plan(e)
    assert plan.points == ({"a.x": 1, "b.y": "p"}, {"a.x": 1, "b.y": "q"}, {"a.x": 2, "b.y": "p"},
                           {"a.x": 2, "b.y": "q"}, {"a.x": 3, "b.y": "p"}, {"a.x": 3, "b.y": "q"})
    assert [r.run_id for r in plan.runs[:3]] == ["p0000-r000", "p0000-r001", "p0001-r000"]
    assert len({r.run_id for r in plan.runs}) == plan.n_runs == 12


def test_seeds_spawned_from_one_seedsequence() -> None:
    e = Experiment(name="s", scenario="launch", seed=12345, replications=5, grid={"a.x": (1, 2)})
    plan = make_plan(e)
    seeds = [r.seed for r in plan.runs]
    assert len(set(seeds)) == len(seeds)  # replications (and points) get different seeds
    assert all(0 <= s < 2**63 for s in seeds)
    # the documented derivation: SeedSequence(seed).spawn(2)[0].spawn(n_points)[p].spawn(reps)[r]
    branch = np.random.SeedSequence(12345).spawn(2)[0]
    for p, child in enumerate(branch.spawn(2)):
        for r, leaf in enumerate(child.spawn(5)):
            want = int(leaf.generate_state(1, np.uint64)[0] >> np.uint64(1))
            assert plan.runs[p * 5 + r].seed == want
    # reproducible, and unchanged when more replications are added
    assert [r.seed for r in make_plan(e).runs] == seeds
    more = make_plan(e.with_(replications=8))
    by_id = {r.run_id: r.seed for r in more.runs}
    assert all(by_id[r.run_id] == r.seed for r in plan.runs)
    # another experiment seed gives other seeds
    assert not set(seeds) & {r.seed for r in make_plan(e.with_(seed=12346)).runs}


def test_common_seeding_shares_seeds_across_points() -> None:
    e = Experiment(name="c", scenario="launch", seed=9, replications=3, grid={"a.x": (1, 2, 3)}, seeding="common")
    plan = make_plan(e)
    by_point = {}
    for r in plan.runs:
        by_point.setdefault(r.point_id, []).append(r.seed)
    assert by_point[0] == by_point[1] == by_point[2]
    assert len(set(by_point[0])) == 3


def test_seed_drawn_from_os_is_recorded() -> None:
    e = Experiment(name="o", scenario="launch", replications=2)
    p1, p2 = make_plan(e), make_plan(e)
    assert p1.experiment.seed == p1.seed and 0 <= p1.seed < 2**63
    assert p1.seed != p2.seed
    assert make_plan(p1.experiment).runs == p1.runs


@pytest.mark.parametrize("method, n", [("random", 7), ("lhs", 12), ("sobol", 16)])
def test_sampled_designs(method: str, n: int) -> None:
    params = (ParamRange("a.lin", 0.1, 0.3), ParamRange("a.log", 1e-6, 1e-3, "log"),
              ParamRange("a.int", 2, 5, type="int"), ParamRange("a.cat", choices=("x", "y", "z")))
    e = Experiment(name="d", scenario="launch", seed=4, sample=SampleSpec(method, n, params))
    plan = make_plan(e)
    assert len(plan.points) == n
    lin = np.array([p["a.lin"] for p in plan.points])
    lg = np.array([p["a.log"] for p in plan.points])
    ints = [p["a.int"] for p in plan.points]
    assert np.all((lin >= 0.1) & (lin <= 0.3)) and np.all((lg >= 1e-6) & (lg <= 1e-3))
    assert all(isinstance(i, int) and 2 <= i <= 5 for i in ints)
    assert {p["a.cat"] for p in plan.points} <= {"x", "y", "z"}
    if method == "lhs":  # one draw in each of the n strata of every continuous dimension
        strata = np.floor((lin - 0.1) / 0.2 * n).astype(int)
        assert sorted(np.minimum(strata, n - 1)) == list(range(n))
    assert make_plan(e).points == plan.points  # the design is seeded
    assert make_plan(e.with_(seed=5)).points != plan.points


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), p=st.integers(0, 10_000), r=st.integers(0, 10_000))
def test_run_seed_is_a_pure_function_of_its_key(seed: int, p: int, r: int) -> None:
    s = run_seed(seed, (0, p, r))
    assert s == run_seed(seed, (0, p, r)) and 0 <= s < 2**63
    assert s != run_seed(seed, (0, p, r + 1))


def test_builtin_experiments_ship_with_the_package_and_match_the_repo_copies() -> None:
    shipped = builtin_experiments()
    assert "mechanisms" in shipped
    for name, path in shipped.items():
        repo_copy = REPO / "experiments" / f"{name}.toml"
        assert repo_copy.is_file(), f"experiments/{name}.toml missing"
        assert repo_copy.read_bytes() == path.read_bytes(), f"experiments/{name}.toml differs from the packaged copy"
        e = load_experiment(name)
        assert e.name == name and e.n_runs >= 1
        # every point makes a valid scenario for the real scenario layer
        from dtao.experiment.runner import validate_scenario
        from dtao.experiment.sweep import validate_plan
        validate_plan(make_plan(e), validate_scenario)


def test_mechanisms_experiment_compares_the_three_rules_on_common_seeds() -> None:
    e = load_experiment("mechanisms")
    assert e.grid == {"chain.emission_rule": ("ema_price", "flow", "root_vote")}
    assert e.seeding == "common" and e.replications >= 8
    plan = make_plan(e)
    by_rule: dict[str, list[int]] = {}
    for r in plan.runs:
        by_rule.setdefault(r.params["chain.emission_rule"], []).append(r.seed)
    assert by_rule["ema_price"] == by_rule["flow"] == by_rule["root_vote"]
    assert set(e.report_metrics) == {"h2e_emission_share_mean", "attacker_profit_tao", "quality_emission_corr",
                                     "root_stakers_apy"}
