"""dtao.validate: the shipped history slices, the facts' real values, the history scenario's timeline,
HistoryEvents (registrations with recorded locks, runtime migrations, start calls), the probe,
determinism, calibration machinery.  The end-to-end short history run (S1, S5) and the CLI are in
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
from dtao.validate.events import HALVING_V2_0_6, HALVING_V2_0_8, HistoryEvents, HistoryEventsConfig, HistoryProbe, \
    HistoryProbeConfig, Registration
from dtao.validate.facts import facts, rolling_peak
from dtao.validate.history import (ATTRIBUTION, FILES, LAUNCH_BLOCK, HistoryDataError, day_of_block, history_dir,
                                   load_history, price_concentration)
from dtao.validate.run import UPGRADES, pin_rank

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
    recorded lock except SN65 (no previous lock) and SN66/SN79 (which HistoryEvents aligns)."""
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


# ------------------------------------------------------------------------------- HistoryEvents
def _small_world(days: float = 2.0, **chain):
    sc = load_scenario("launch-2025-history", {
        "initial.n_subnets": 4, "initial.n_uids": 20, "initial.root_validators": 4, "horizon.days": days,
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


def test_history_events_register_on_the_grid_with_the_recorded_locks():
    sc, w = _small_world(2.8, duration_of_start_call=1800)
    from dtao.agents import SetupContext

    regs = [Registration(at_block=100, netuid=5, lock_tao=37.83), Registration(at_block=7300, netuid=6, lock_tao=65.23),
            Registration(at_block=14500, netuid=7, lock_tao=114.16)]
    cfg = HistoryEventsConfig(registrations=regs, first_emission_block=10_000, start_wait_min_days=0.5,
                              start_wait_mean_days=0.5)
    ev = HistoryEvents("history_events", cfg, np.random.default_rng(1), reserve_coldkey=w.reserve_coldkey)
    issuance0 = w.state.total_issuance
    reserve0 = float(w.state.balance[w.reserve_coldkey])
    ev.setup(SetupContext(w.state, w.world, w.roles, w.start_block, 2.8))
    # founders are funded from the idle reserve: the initial issuance is unchanged
    assert w.state.total_issuance == pytest.approx(issuance0)
    assert float(w.state.balance[w.reserve_coldkey]) == pytest.approx(reserve0 - sum(r.lock_tao + 1 for r in regs))
    sim = _run(w, [ev], int(2.8 * 7200))
    st = sim.state
    check_invariants(st)
    assert ev.netuid.tolist() == [5, 6, 7]
    reg_notes = [n for n in ev.notes if n[1] == "history_register_network"]
    for (blk, _, nu, d), r in zip(reg_notes, regs):
        assert blk == w.start_block + r.at_block + (-r.at_block) % 60  # next block of the 60-block grid
        assert d["lock_tao"] == pytest.approx(r.lock_tao, rel=cfg.lock_tolerance)
    # the v2.0.9 migration gave every subnet that existed then the same first-emission block;
    # SN7, registered after it, waited 0.5 days for its owner's start_call
    mig = [n for n in ev.notes if n[1] == "history_first_emission_migration"]
    assert len(mig) == 1 and mig[0][0] == w.start_block + 10_020
    assert all(st.first_emission_block[nu] == mig[0][0] for nu in (1, 2, 3, 4, 5, 6))
    starts = {n[2]: n[0] for n in ev.notes if n[1] == "history_start_call"}
    assert list(starts) == [7]
    assert starts[7] - st.registered_block[7] == pytest.approx(3600, abs=60)
    assert st.first_emission_block[7] == starts[7] + 1
    assert ev.aligned >= 1  # SN5's lock: the chain had no previous lock


def test_history_events_release_the_slow_start_per_subnet():
    sc, w = _small_world(1.0)
    from dtao.agents import SetupContext

    cfg = HistoryEventsConfig(registrations=[Registration(at_block=60, netuid=5, lock_tao=10.0)],
                              slow_start_block=1200, halving_hyper_block=2400, first_emission_block=3600,
                              start_call_slow_start_block=4800, launch_netuids=4)
    ev = HistoryEvents("history_events", cfg, np.random.default_rng(1), reserve_coldkey=w.reserve_coldkey)
    ev.setup(SetupContext(w.state, w.world, w.roles, w.start_block, 1.0))
    seen = {}
    orig = ev.act

    def act(state, market, world):
        orig(state, market, world)
        seen[state.block] = state.ema_halving_blocks[:6].copy()

    ev.act = act
    _run(w, [ev], 7200)
    at = lambda blk: seen[max(b for b in seen if b <= w.start_block + blk)]  # noqa: E731
    assert at(1300)[1:5].tolist() == [0, 0, 0, 0] and at(1300)[5] == HALVING_V2_0_6
    assert at(2500)[5] == HALVING_V2_0_8 and at(2500)[1] == 0
    assert at(4900)[1:6].tolist() == [HALVING_V2_0_8] * 5


def test_lock_alignment_charges_the_recorded_lock():
    sc, w = _small_world(0.1)
    st = w.state
    from dtao.agents import SetupContext

    ev = HistoryEvents("history_events", HistoryEventsConfig(registrations=[]), np.random.default_rng(1))
    ev.setup(SetupContext(st, w.world, w.roles, w.start_block, 0.1))
    st.block = 50_000
    st.params = st.params.with_(network_lock_reduction_interval=14400)
    for last_block, want in ((0, 37.83), (40_000, 250.0), (1_000, 254.95)):
        st.network_last_lock_block = last_block
        st.network_last_lock_cost = 100.0
        got = ev._align_lock(st, want)
        assert got == pytest.approx(want, rel=1e-7)
        assert got == pytest.approx(network_lock_cost(st))
        assert st.block - st.network_last_lock_block >= st.params.network_rate_limit


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
    # history runs, where HistoryEvents acts every 60) and takes no part in their random order
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
    other = pin_rank(w, 2, 1)
    assert st.moving_price[2] == mp.max()
    assert sorted(st.moving_price[1:5]) == sorted(mp)
    assert sorted(w.world.subnet_q(st.n_subnets_cap)[1:5]) == sorted(q)
    assert pin_rank(w, 2, 1) == 2  # already there
    with pytest.raises(ValueError, match="rank 9"):
        pin_rank(w, 2, 9)
    assert other in (1, 2, 3, 4)


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
