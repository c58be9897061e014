"""dtao.validate: the shipped history slices, the facts' real values, the history scenario's timeline
(its register_network / set_hyper / first_emission_migration events against the record, the
registrants' start calls, lock alignment, malformed events), the probe, determinism, calibration
machinery.  The end-to-end short history run (S1, S5) and the CLI are in
tests/test_validate_run.py."""
from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dtao.chain.invariants import check_invariants
from dtao.chain.registration import network_lock_cost
from dtao.scenario import load_scenario
from dtao.scenario.build import build
from dtao.validate.calibrate import PARAMS, CalParam, fact_z, overrides_for
from dtao.scenario.loader import ScenarioError
from dtao.scenario.networks import pin_rank
from dtao.sim.driver import align_lock_cost, run_scenario
from dtao.validate.events import HistoryProbe, HistoryProbeConfig
from dtao.validate.facts import facts, rolling_peak
from dtao.validate.history import (ATTRIBUTION, FILES, LAUNCH_BLOCK, HistoryDataError, day_of_block, history_dir,
                                   load_history, price_concentration)
from dtao.validate.run import UPGRADES

from tests.conftest import SHARED

SHARED_HISTORY = SHARED / "data" / "history"


@pytest.fixture(scope="module")
def hist():
    return load_history()


# ------------------------------------------------------------------------------------ data slices
def test_shipped_slices_match_the_shared_originals():
    if not SHARED_HISTORY.is_dir():
        pytest.fail(f"shared history folder missing: {SHARED_HISTORY} (set DTAO_SHARED)")
    names = list(FILES) + ["chain_params_at_launch.json"]
    for name in names:
        shipped = (history_dir() / name).read_bytes()
        orig = (SHARED_HISTORY / name).read_bytes()
        assert hashlib.sha256(shipped).hexdigest() == hashlib.sha256(orig).hexdigest(), name


def test_shipped_readme_keeps_the_attribution():
    text = (history_dir() / "README.md").read_text()
    assert ATTRIBUTION in text
    assert "alexlange1/alphamind-transparency" in text


def test_history_tables_and_clock(hist):
    d = hist.daily
    assert len(d) == 244 and d["date"].iloc[0] == pd.Timestamp("2025-02-20")
    assert hist.block_of_date("2025-02-20") == 4_964_237
    # a date inside the 9-day gap of the table is extrapolated at 7200 blocks a day
    assert hist.block_of_date("2025-03-06") == 5_072_232 - 7200
    assert hist.block_of_time("2025-02-25 12:20") == int(hist.sn28.loc[hist.sn28["time"] == pd.Timestamp(
        "2025-02-25 12:20"), "block"].iloc[0])
    assert day_of_block(LAUNCH_BLOCK + 7200) == 1.0
    assert np.allclose(hist.registrations["day"], (hist.registrations["block"] - LAUNCH_BLOCK) / 7200)
    assert hist.registrations["netuid"].tolist() == list(range(65, 129))
    assert hist.root_curve["root_prop"].iloc[0] == pytest.approx(0.992)


def test_start_call_wait_is_littles_law(hist):
    raw = pd.read_csv(history_dir() / "subnet_price_daily_stats_2025.csv", parse_dates=["date"])
    w = raw[(raw.date >= "2025-04-05") & (raw.date <= "2025-06-25")]
    regs = pd.read_csv(history_dir() / "subnet_registrations_post_dtao_2025.csv", parse_dates=["date"])
    n = ((regs.date >= "2025-04-05") & (regs.date <= "2025-06-25")).sum()
    assert hist.start_call_wait_days() == pytest.approx(w.n_price_ge_1.mean() / (n / 82))
    assert 20 < hist.start_call_wait_days() < 30


def test_bad_history_folder_is_named(tmp_path):
    with pytest.raises(HistoryDataError, match="not found"):
        load_history(tmp_path / "nope")
    for name in list(FILES) + ["chain_params_at_launch.json"]:
        (tmp_path / name).write_bytes((history_dir() / name).read_bytes())
    load_history(tmp_path)  # a complete copy loads
    df = pd.read_csv(tmp_path / "subnet_registrations_post_dtao_2025.csv")
    df.drop(columns=["registration_cost_tao"]).to_csv(tmp_path / "subnet_registrations_post_dtao_2025.csv", index=False)
    with pytest.raises(HistoryDataError, match="subnet_registrations_post_dtao_2025.csv.*registration_cost_tao"):
        load_history(tmp_path)
    df.assign(registration_cost_tao=df.registration_cost_tao.astype(str).where(df.netuid != 70, "x")) \
        .to_csv(tmp_path / "subnet_registrations_post_dtao_2025.csv", index=False)
    with pytest.raises(HistoryDataError, match="registration_cost_tao row 7 is not a number"):
        load_history(tmp_path)
    (tmp_path / "timeline.csv").unlink()
    with pytest.raises(HistoryDataError, match="timeline.csv not found"):
        load_history(tmp_path)


def test_price_concentration_matches_the_tables_definitions():
    p = np.array([0.5, 0.25, 0.25, 1.0, 3.0])  # prices >= 1 (not started) are left out
    tot, top, eff, n = price_concentration(p)
    assert (tot, n) == (1.0, 3)
    assert top == pytest.approx(1.0)
    assert eff == pytest.approx(1 / (0.25 + 0.0625 + 0.0625))
    tot, top, eff, n = price_concentration(np.full(40, 0.01))
    assert eff == pytest.approx(40) and top == pytest.approx(0.25)
    assert math.isnan(price_concentration(np.array([1.0, 2.0]))[2])


# ---------------------------------------------------------------------------------- the facts
def test_real_values_of_the_facts_come_from_the_record(hist):
    raw = pd.read_csv(history_dir() / "subnet_price_daily_stats_2025.csv", parse_dates=["date"])
    sn28 = pd.read_csv(history_dir() / "sn28_price_2025-02-24_to_26_10min.csv", parse_dates=["utc_time"])
    sd = pd.read_csv(history_dir() / "sn28_daily_midnight_price_2025.csv", parse_dates=["date"])
    real = {f.id: f.real(hist) for f in facts(hist)}
    assert real["S1"] == pytest.approx(2.318, abs=1e-4)
    march = raw[(raw.date >= "2025-03-15") & (raw.date <= "2025-03-31")].sum_prices_lt_1
    assert real["S2a"] == pytest.approx(march.median())
    assert 1.1 <= real["S2a"] <= 1.25  # the README's "about 1.1-1.25"
    aug = raw[(raw.date >= "2025-08-01") & (raw.date <= "2025-10-29")].sum_prices_lt_1
    assert real["S2c"] == pytest.approx(aug.median())
    assert real["S3a"] == 0.569 and real["S3b"] == 21.46
    assert real["S3c"] == pytest.approx(raw[raw.date.dt.month == 10].top10_share_of_sum_lt_1.median() - 0.569)
    assert real["S5a"] == pytest.approx(0.4874, abs=2e-3)
    assert real["S5b"] == pytest.approx(0.201)
    peak = sn28[sn28.utc_time <= "2025-02-25 12:30"].sn28_price_tao_per_alpha.max()
    assert real["S6a"] == pytest.approx(peak / sd.loc[sd.date == "2025-02-20", "sn28_price_tao_per_alpha"].iloc[0])
    at = sn28.loc[sn28.utc_time == "2025-02-25 12:30", "sn28_price_tao_per_alpha"].iloc[0]
    low = sn28[(sn28.utc_time > "2025-02-25 12:30") & (sn28.utc_time <= "2025-02-25 21:30")].sn28_price_tao_per_alpha.min()
    assert real["S6b"] == pytest.approx(1 - low / at)
    assert real["S6b"] > 0.9  # the README's -93%
    assert real["S6d"] > 0.98
    assert math.isnan(real["S6c"]) and real["S8"] == 0.0


def test_every_fact_has_a_band_a_reason_and_a_real_value_inside_its_band(hist):
    ids = [f.id for f in facts(hist)]
    assert len(ids) == len(set(ids))
    for prefix in ("S1", "S2", "S3", "S5", "S6", "S8"):
        assert any(i.startswith(prefix) for i in ids)
    for f in facts(hist):
        lo, hi = f.band
        assert lo < hi and f.why_band and f.if_fails
        r = f.real(hist)
        if math.isfinite(r):
            assert lo <= r <= hi, f.id  # the record itself passes every band
    assert {f.id for f in facts(hist) if f.fitted} == {"S1", "S2a", "S3a", "S3b", "S6a"}


def test_rolling_peak_ignores_one_day_spikes():
    x = np.array([1.0, 1.0, 5.0, 1.0, 1.0, 1.2, 1.1])
    assert rolling_peak(x) == pytest.approx(1.1)  # the 5.0 spike never sets the peak
    assert math.isnan(rolling_peak(np.array([1.0, np.nan, 1.0, 1.0, 1.0])))


# ------------------------------------------------------------------------------- the scenario
def test_history_scenario_events_sit_on_the_recorded_dates(hist):
    text = (Path(__file__).resolve().parents[1] / "src/dtao/scenarios/launch-2025-history.toml").read_text()
    raw = tomllib.loads(text)
    ev = raw["events"]

    def block_where(**params):
        hits = [e["at_block"] for e in ev if e["kind"] == "set_params"
                and all(e["params"].get(k) == v for k, v in params.items())]
        assert len(hits) == 1, params
        return hits[0]

    off = lambda date: hist.block_of_date(date) - LAUNCH_BLOCK  # noqa: E731
    assert block_where(ema_price_cap=True) == off(UPGRADES["v2.0.4"])
    assert block_where(ema_slow_start=True) == off(UPGRADES["v2.0.6"])
    assert block_where(owner_incentive_burn=True) == off(UPGRADES["v2.0.8"])
    assert block_where(require_start_call=True) == off(UPGRADES["v2.0.9"])
    assert block_where(root_divs_to_subnet_tao=True) == off("2025-06-30")
    assert block_where(subnet_moving_alpha=0.0003) == off("2025-08-01")
    assert block_where(emission_rule="flow") == off("2025-11-04")
    sn71 = int(hist.registrations.loc[hist.registrations.netuid == 71, "block"].iloc[0])
    sn72 = int(hist.registrations.loc[hist.registrations.netuid == 72, "block"].iloc[0])
    # one day after SN71: well clear of the 60-block grid SN71 is registered on, before SN72
    assert block_where(network_lock_reduction_interval=14400) == sn71 + 7200 - LAUNCH_BLOCK < sn72 - LAUNCH_BLOCK
    inter = [e for e in ev if e["kind"] == "intervention"]
    assert inter[0]["at_block"] == hist.block_of_time("2025-02-25 12:30") - LAUNCH_BLOCK
    sc = load_scenario("launch-2025-history")
    assert sc.horizon.days == 300 and sc.chain["network_lock_reduction_interval"] == 28800
    assert sc.chain["ema_price_cap"] is False and sc.chain["require_start_call"] is False


def test_recorded_locks_follow_the_chain_rule_with_the_scenarios_intervals(hist):
    """With 28,800 blocks up to SN71 and 14,400 after, the chain's lock rule reproduces every
    recorded lock except SN65 (no previous lock) and SN66/SN79 (which the register_network event aligns)."""
    r = hist.registrations
    c, b = r.lock_tao.to_numpy(), r.block.to_numpy()
    sn71 = int(np.flatnonzero(r.netuid.to_numpy() == 71)[0])
    off = []
    for i in range(1, len(c)):
        interval = 28800 if i <= sn71 else 14400
        pred = max(1.0, 2 * c[i - 1] - c[i - 1] * (b[i] - b[i - 1]) / interval)
        if abs(pred / c[i] - 1) > 0.005:
            off.append(int(r.netuid.iloc[i]))
    assert off == [66, 79]


def test_history_scenario_replays_the_recorded_registrations_and_upgrades(hist):
    """The scenario file carries the whole timeline: one register_network event per recorded
    registration (block, netuid, lock), the per-subnet slow-start settings and the v2.0.9 migration
    on their dates, the start-call wait from the record, SN28's launch standing."""
    sc = load_scenario("launch-2025-history")
    regs = [e for e in sc.events if e.kind == "register_network"]
    r = hist.registrations
    assert [e.at_block for e in regs] == (r["block"] - LAUNCH_BLOCK).tolist()
    assert [e.params["netuid"] for e in regs] == r["netuid"].tolist()
    assert [e.params["lock_tao"] for e in regs] == r["lock_tao"].tolist()
    assert {e.population for e in regs} == {"new_owners"} and sc.agents["new_owners"].kind == "registrants"
    off = lambda v: hist.block_of_date(UPGRADES[v]) - LAUNCH_BLOCK  # noqa: E731
    hyper = [(e.at_block, e.netuid_range, e.params["ema_price_halving_blocks"]) for e in sc.events
             if e.kind == "set_hyper"]
    assert hyper == [(off("v2.0.6"), (1, 64), 0), (off("v2.0.6"), (65, 1024), 100_800),
                     (off("v2.0.8"), (65, 1024), 201_600), (off("v2.0.10"), (1, 64), 201_600)]
    mig = [e.at_block for e in sc.events if e.kind == "first_emission_migration"]
    assert mig == [off("v2.0.9")]
    owners = sc.agents["new_owners"]
    assert owners.start_wait_mean_days == pytest.approx(hist.start_call_wait_days(), abs=1e-3)
    assert owners.sell_fraction == sc.agents["owners"].sell_fraction
    assert sc.initial.launch_rank == {28: int(hist.sn28["rank"].iloc[0])}


def _small(days: float, events: list, registrants: dict | None = None, **chain):
    return load_scenario("launch-2025-history", {
        "initial.n_subnets": 4, "initial.n_uids": 20, "initial.root_validators": 4, "initial.launch_rank": {},
        "horizon.days": days, "horizon.record_every": 1800,
        "agents": {"validators": {"kind": "validators"}, "miners": {"kind": "miners"},
                   "founders": {"kind": "registrants", **(registrants or {})}},
        "events": events, **{f"chain.{k}": v for k, v in chain.items()}})


def _reg(block: int, netuid: int, lock: float) -> dict:
    return {"kind": "register_network", "at_block": block, "population": "founders",
            "params": {"netuid": netuid, "lock_tao": lock}}


def _log(res) -> pd.DataFrame:
    return pd.read_parquet(res.out_dir / "events.parquet")


def test_a_short_run_registers_subnets_on_their_blocks_with_their_locks(tmp_path):
    """`dtao run` of a scenario with register_network events: each subnet registered at its block,
    paying the recorded lock (aligned where the chain's rule is off); the migration starts every
    subnet existing then; a later one waits for its owner's start_call; founders are funded at
    genesis without changing the initial issuance."""
    events = [_reg(100, 5, 37.83), _reg(7300, 6, 65.23), _reg(14500, 7, 114.16),
              {"kind": "first_emission_migration", "at_block": 10_000},
              {"kind": "set_params", "at_block": 10_000, "params": {"require_start_call": True}}]
    sc = _small(2.8, events, {"start_wait_min_days": 0.5, "start_wait_mean_days": 0.5},
                duration_of_start_call=1800, require_start_call=False)
    w = build(sc, seed=3)
    assert w.populations[-1].name == "founders" and w.populations[-1].planned == [37.83, 65.23, 114.16]
    # founders minted at genesis with their lock + 1 TAO; the idle reserve is smaller by as much
    assert w.state.balance[w.populations[-1].coldkeys].tolist() == pytest.approx([38.83, 66.23, 115.16])
    assert w.state.total_issuance == pytest.approx(sc.initial.total_issuance)
    res = run_scenario(sc, seed=3, out_dir=tmp_path / "run", record_plots=False)
    st = res.state
    check_invariants(st)
    log = _log(res)
    start = res.metadata["start_block"]
    reg = log[log.kind == "register_network"]
    assert reg.netuid.tolist() == [5, 6, 7]
    assert (reg.block - start).tolist() == [100, 7300, 14500]  # exactly on the event's block
    import json as _json

    for d, lock in zip(reg.detail, (37.83, 65.23, 114.16)):
        assert _json.loads(d)["lock_tao"] == pytest.approx(lock, rel=0.005)
    assert (log.kind == "lock_aligned").sum() >= 1  # SN5: the chain had no previous lock
    # before the start gate a subnet emits from its registration; the migration reset them all
    mig = int(log.loc[log.kind == "first_emission_migration", "block"].iloc[0])
    assert mig == start + 10_000
    assert all(st.first_emission_block[nu] == mig for nu in (1, 2, 3, 4, 5, 6))
    starts = log[(log.kind == "start_call")]
    assert starts.netuid.tolist() == [7]
    assert int(starts.block.iloc[0]) - st.registered_block[7] == pytest.approx(3600, abs=60)
    assert st.first_emission_block[7] == int(starts.block.iloc[0]) + 1


def test_set_hyper_over_a_netuid_range_sets_the_slow_start_per_subnet(tmp_path):
    events = [_reg(60, 5, 10.0),
              {"kind": "set_hyper", "at_block": 1200, "netuid_range": [1, 4], "params": {"ema_price_halving_blocks": 0}},
              {"kind": "set_hyper", "at_block": 1200, "netuid_range": [5, 1024],
               "params": {"ema_price_halving_blocks": 100_800}},
              {"kind": "set_hyper", "at_block": 2400, "netuid_range": [1, 4],
               "params": {"ema_price_halving_blocks": 201_600}}]
    sc = _small(0.5, events)
    st = run_scenario(sc, seed=1, blocks=1200).state  # ends at block 1200 (the first pair fired)
    assert st.ema_halving_blocks[1:5].tolist() == [0, 0, 0, 0] and st.ema_halving_blocks[5] == 100_800
    st = run_scenario(sc, seed=1).state
    assert st.ema_halving_blocks[1:5].tolist() == [201_600] * 4 and st.ema_halving_blocks[5] == 100_800


def test_malformed_timeline_events_are_one_line_errors():
    bad = [
        ({**_reg(100, 5, -1.0)}, "events.0: params.lock_tao: Input should be greater than 0"),
        ({**_reg(100, 5, 10.0), "params": {"lock": 10.0}}, "events.0: params.lock: Extra inputs are not permitted"),
        ({k: v for k, v in _reg(100, 5, 10.0).items() if k != "population"},
         "events.0: a register_network event names the registrants population"),
        ({**_reg(100, 5, 10.0), "population": "miners"}, "events.0.population: 'miners' is not a registrants population"),
        ({**_reg(100, 5, 10.0), "netuid": 5}, "events.0: a register_network event takes no netuid"),
        ({"kind": "set_hyper", "at_block": 1, "netuid_range": [9, 3], "params": {}},
         "events.0: netuid_range: need 1 <= lo <= hi, got [9, 3]"),
        ({"kind": "set_hyper", "at_block": 1, "netuid_range": [1, 3], "params": {"halving": 1}},
         "events.0: params: 'halving' is not a subnet hyperparameter"),
        ({"kind": "first_emission_migration", "at_block": 1, "params": {"x": 1}},
         "events.0: a first_emission_migration event takes no params"),
    ]
    for ev, msg in bad:
        with pytest.raises(ScenarioError) as exc:
            _small(1.0, [ev])
        text = str(exc.value)
        assert msg in text, text
        assert "\n" not in text


def test_lock_alignment_charges_the_recorded_lock():
    sc = _small(0.1, [])
    st = build(sc, seed=1).state
    st.block = 50_000
    st.params = st.params.with_(network_lock_reduction_interval=14400)
    for last_block, want in ((0, 37.83), (40_000, 250.0), (1_000, 254.95)):
        st.network_last_lock_block = last_block
        st.network_last_lock_cost = 100.0
        got = align_lock_cost(st, want)
        assert got == pytest.approx(want, rel=1e-7)
        assert got == pytest.approx(network_lock_cost(st))
        assert st.block - st.network_last_lock_block >= st.params.network_rate_limit


def _small_world(days: float = 2.0, **chain):
    sc = load_scenario("launch-2025-history", {
        "initial.n_subnets": 4, "initial.n_uids": 20, "initial.root_validators": 4, "initial.launch_rank": {},
        "horizon.days": days,
        "agents": {"validators": {"kind": "validators"}, "miners": {"kind": "miners"}}, "events": [],
        **{f"chain.{k}": v for k, v in chain.items()}})
    return sc, build(sc, seed=3)


def _run(w, pops, n_blocks):
    from dtao.sim.driver import Simulation

    class Q:
        def update(self, done):
            pass

    w.populations.extend(pops)
    sim = Simulation(w, 1800)
    sim.run(Q())
    return sim


def test_probe_samples_at_requested_blocks_and_submits_nothing():
    sc, w = _small_world(0.5)
    probe = HistoryProbe("p", HistoryProbeConfig(watch_netuid=2, launch_netuids=4), np.random.default_rng(0),
                         np.array([0, 500, 1000, 1000, 3599]))
    from dtao.agents import SetupContext

    probe.setup(SetupContext(w.state, w.world, w.roles, w.start_block, 0.5))
    sim = _run(w, [probe], 3600)
    probe.flush(sim.state)  # the sample in the run's last cadence
    df = pd.DataFrame(probe.rows)
    assert df[0].tolist() == [0, 500, 1000, 3599]
    # a market-neutral population: it looks on the market's ticks (here every 360 blocks; 60 in
    # history runs, where the registrants act every 60) and takes no part in their random order
    assert probe.market_neutral and sim.tick == 360
    assert np.all((df[1] >= df[0]) & (df[1] - df[0] < sim.tick))
    assert df[1].iloc[-1] == 3600  # flushed at the end of the run
    assert probe.orders == 0 and probe.coldkeys.size == 0
    last = probe.sample(sim.state)
    ids = sim.state.subnet_netuids
    assert last[6] == ids.size
    assert last[2] == pytest.approx(float(np.asarray(sim.state.spot_price())[ids][
        np.asarray(sim.state.spot_price())[ids] < 1].sum()))


def test_pin_rank_swaps_launch_standing():
    sc, w = _small_world(0.1)
    st = w.state
    mp = st.moving_price[1:5].copy()
    q = w.world.subnet_q(st.n_subnets_cap)[1:5].copy()
    other = pin_rank(st, w.world, 2, 1)
    assert st.moving_price[2] == mp.max()
    assert sorted(st.moving_price[1:5]) == sorted(mp)
    assert sorted(w.world.subnet_q(st.n_subnets_cap)[1:5]) == sorted(q)
    assert pin_rank(st, w.world, 2, 1) == 2  # already there
    with pytest.raises(ValueError, match="rank 9"):
        pin_rank(st, w.world, 2, 9)
    assert other in (1, 2, 3, 4)
    with pytest.raises(ScenarioError, match="launch_rank: rank 9 of netuid 2 is outside 1..4"):
        load_scenario("launch-2025-history", {"initial.n_subnets": 4, "initial.launch_rank": {2: 9}})


# --------------------------------------------------------------------------------- calibration
def test_calibration_parameters_map_within_bounds():
    for p in PARAMS + (CalParam("x", 0.1, 10.0, 1.0, log=True),):
        for u in (-50.0, -1.0, 0.0, 2.0, 50.0):
            v = p.value(u)
            assert p.low <= v <= p.high
        assert p.value(p.coord(p.start)) == pytest.approx(p.start, rel=1e-6)
    ov = overrides_for({p.key: p.start for p in PARAMS})
    assert ov["agents.owners.sell_fraction"] == ov["agents.miners.sell_fraction"]
    load_scenario("launch-2025-history", ov)  # every calibrated key is a valid override


def test_fact_z_scales_by_band(hist):
    fs = {f.id: f for f in facts(hist)}
    s1 = fs["S1"]
    assert fact_z(s1, 2.0, 2.0 + (s1.band[1] - s1.band[0]) / 2) == pytest.approx(1.0)
    s6a = fs["S6a"]
    assert fact_z(s6a, 4.0, 4.0 * math.sqrt(9.0 / 3.5)) == pytest.approx(1.0)
    assert fact_z(s1, 2.0, float("nan")) == 5.0


def test_new_subnet_buyers_buy_a_started_new_subnet_up_to_its_fair_price():
    """After SN5 starts, interested buyers stake into it with a limit at the fair price (median
    price of the emitting subnets below 1 x its quality); the launch subnets get nothing from them;
    without them the owner's sales sink SN5's price."""
    from dtao.agents.newsubnets import NewSubnetBuyers
    from dtao.scenario.loader import validate as validate_raw

    base = _small(1.0, [_reg(60, 5, 10.0)], {"sell_fraction": 0.5}, require_start_call=False)
    raw = base.model_dump(mode="json")
    raw["agents"]["buyers"] = {"kind": "new_subnet_buyers", "count": 20, "budget_tao": 50.0, "cadence_blocks": 300,
                               "interest": 1.0, "window_days": 5.0}
    sc = validate_raw(raw, "test")
    w = build(sc, seed=2)
    buyers = next(p for p in w.populations if isinstance(p, NewSubnetBuyers))
    budget = float(w.state.balance[buyers.coldkeys].sum())
    st = _run(w, [], 7200).state
    check_invariants(st)
    cks, hks, nus = buyers.book.arrays()
    assert set(nus.tolist()) == {5}  # only the new subnet
    held = float(st.hotkey_alpha[hks, 5].sum())
    assert held > 0 and float(st.balance[buyers.coldkeys].sum()) < budget
    price = np.asarray(st.spot_price(), np.float64)
    fair = buyers.fair_price(st, w.world, price, np.array([5]))[0]
    # bought up towards the fair price, never far above it (limit at fair, sales above 1.5 x fair)
    assert 0.2 * fair < price[5] <= fair * (1.0 + buyers.config.sell_premium) * 1.05
    alone = run_scenario(base, seed=2).state  # the same run without them
    assert float(np.asarray(alone.spot_price())[5]) < 0.5 * price[5]


def test_root_returners_move_low_yield_positions_back_to_root():
    """Root nominators whose alpha positions quote less than exit_apy move them back to root (the
    way back of root_stakers); with exit_apy 0 nothing moves."""
    from dtao.agents.newsubnets import RootReturners
    from dtao.scenario.loader import validate as validate_raw

    def world(exit_apy: float):
        raw = _small(1.0, [{"kind": "first_emission_migration", "at_block": 0}]).model_dump(mode="json")
        raw["agents"] = {"validators": {"kind": "validators"},
                         "root_stakers": {"kind": "root_stakers", "move_prob": 1.0, "move_fraction": 0.2,
                                          "min_apy": 0.0, "cadence_blocks": 600, "stop_day": 0.5},
                         "back": {"kind": "root_returners", "exit_apy": exit_apy, "return_prob": 1.0,
                                  "return_fraction": 1.0, "cadence_blocks": 1800, "start_day": 0.6}}
        w = build(validate_raw(raw, "test"), seed=4)
        return w, next(p for p in w.populations if isinstance(p, RootReturners))

    out = {}
    for exit_apy in (0.0, 1e9):
        w, back = world(exit_apy)
        st = _run(w, [], 7200).state
        check_invariants(st)
        out[exit_apy] = (float(st.tao_reserve[0]), back.orders,
                         sum(1 for (ck, hk, nu) in st.positions if nu != 0 and ck in back.holders))
    assert out[0.0][1] == 0 and out[0.0][2] > 0  # never below 0: they stay in the subnets
    assert out[1e9][1] > 0 and out[1e9][0] > out[0.0][0]  # every position quotes below 1e9: root grows back
