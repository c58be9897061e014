"""Sweeps end to end: executors agree bit for bit, failures are recorded, the catalog answers SQL,
and a killed or interrupted sweep resumes with no run missing and none done twice."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from dtao.experiment import (ExperimentError, StoreError, SweepInterrupted, query, run_sweep)
from dtao.experiment.store import Store
from tests.support.exp import RUN_FN, VALIDATE_FN, small_experiment, store_content
from tests.support.child import run_child
from tests.support.hooks import DRIVER_PID_ENV

TESTS = Path(__file__).resolve().parent


def sweep(exp, out, **kw):
    kw.setdefault("run_fn", RUN_FN)
    kw.setdefault("validate_fn", VALIDATE_FN)
    return run_sweep(exp, out, **kw)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small experiment run in-process: the reference every other way of running it must match."""
    out = tmp_path_factory.mktemp("ref") / "exp"
    res = sweep(small_experiment(), out, executor="inprocess")
    assert res.complete and res.n_done == 8 and res.n_failed == 0
    return out


def uninterrupted(tmp_path: Path) -> dict:
    """Content of the small experiment run in-process now, in one go (computed next to the runs it is
    compared with, so that both come from the same code)."""
    out = tmp_path / "uninterrupted"
    res = sweep(small_experiment(), out, executor="inprocess")
    assert res.complete and res.n_done == 8
    return store_content(out)


def test_inprocess_sweep_writes_store_and_catalog(reference: Path) -> None:
    store = Store(reference)
    assert store.finished_ids() == [f"p{p:04d}-r{r:03d}" for p in range(4) for r in range(2)]
    assert not any(store.tmp_dir.iterdir())
    df = query(reference, "SELECT * FROM runs ORDER BY run_id")
    assert list(df.status) == ["done"] * 8
    assert df.seed.is_unique and (df.seed_entropy == 20250213).all()
    assert set(df.chain_emission_rule) == {"ema_price", "flow"} and set(df.chain_subnet_owner_cut) == {0.1, 0.18}
    assert df.attacker_profit_tao.notna().all()
    # the catalog agrees with the run folders it was built from
    for row in df.itertuples():
        rec = json.loads((reference / "runs" / row.run_id / "run.json").read_text())
        assert rec["seed"] == row.seed and rec["summary"]["attacker_profit_tao"] == row.attacker_profit_tao
        assert json.loads(row.params) == rec["params"]
    # SQL over runs and over the runs' Parquet tables
    g = query(reference, "SELECT chain_emission_rule AS rule, count(*) AS n, avg(root_proportion_mean_final) AS rp "
                         "FROM runs WHERE status = 'done' GROUP BY 1 ORDER BY 1")
    assert list(g.rule) == ["ema_price", "flow"] and list(g.n) == [4, 4] and g.rp.between(0, 1).all()
    j = query(reference, "SELECT r.chain_emission_rule, count(DISTINCT s.run_id) AS runs, max(s.price) AS pmax "
                         "FROM subnets s JOIN runs r USING (run_id) GROUP BY 1 ORDER BY 1")
    assert list(j.runs) == [4, 4] and (j.pmax > 0).all()
    assert query(reference, "SELECT n_runs, n_points FROM experiment").iloc[0].tolist() == [8, 4]
    assert list(query(reference, "SELECT key FROM parameters ORDER BY key").key) == [
        "chain.emission_rule", "chain.subnet_owner_cut"]
    log = [json.loads(x) for x in (reference / "sweeps.jsonl").read_text().splitlines()]
    assert log[-1]["executed"] == 8 and log[-1]["executor"] == "inprocess"


@pytest.mark.slow  # worker processes / a Dask cluster / a child sweep: a few seconds each
def test_executors_give_identical_results(tmp_path: Path) -> None:
    from dask.distributed import Client, LocalCluster

    want = uninterrupted(tmp_path)
    assert len(want) == 8
    out_p = tmp_path / "processes"
    res = sweep(small_experiment(), out_p, executor="processes", workers=2)
    assert res.n_done == 8
    assert store_content(out_p) == want
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        out_d = tmp_path / "dask"
        res = sweep(small_experiment(), out_d, executor="dask", client=client)
        assert res.n_done == 8 and res.executor == "dask"
    assert store_content(out_d) == want
    ex = query(out_d, "SELECT DISTINCT executor FROM runs")
    assert list(ex.executor) == ["dask"]


@pytest.mark.slow  # worker processes / a Dask cluster / a child sweep: a few seconds each
def test_failing_runs_are_recorded_and_the_rest_finish(tmp_path: Path) -> None:
    e = small_experiment(grid={"chain.emission_rule": ("ema_price", "flow"), "test.fail": (False, True)})
    res = sweep(e, tmp_path / "f", executor="processes", workers=2)
    assert res.complete and res.n_done == 4 and res.n_failed == 4
    df = query(tmp_path / "f", "SELECT run_id, status, test_fail, error, traceback FROM runs ORDER BY run_id")
    assert (df.status == df.test_fail.map({True: "failed", False: "done"})).all()
    bad = df[df.status == "failed"]
    assert bad.error.str.contains("RuntimeError: injected failure").all()
    assert bad.traceback.str.contains("Traceback").all() and bad.traceback.str.contains("hooks.py").all()
    # a failed run keeps no partial outputs (queries over runs/*/ see only finished data)
    for rid in bad.run_id:
        assert sorted(p.name for p in (tmp_path / "f" / "runs" / rid).iterdir()) == ["run.json"]
    assert query(tmp_path / "f", "SELECT count(DISTINCT run_id) AS n FROM subnets").n[0] == 4


@pytest.mark.slow  # worker processes / a Dask cluster / a child sweep: a few seconds each
def test_a_worker_that_dies_is_recorded_and_the_pool_goes_on(tmp_path: Path) -> None:
    e = small_experiment(replications=1, grid={"chain.subnet_owner_cut": (0.1, 0.18), "test.die": (False, True)})
    res = sweep(e, tmp_path / "d", executor="processes", workers=2)
    assert res.complete and res.n_done == 2 and res.n_failed == 2
    df = query(tmp_path / "d", "SELECT test_die, status, error FROM runs")
    assert (df.status == df.test_die.map({True: "failed", False: "done"})).all()
    assert df[df.test_die].error.str.startswith("WorkerDied").all()


def _script(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "driver.py"
    p.write_text(textwrap.dedent(body))
    return p


def _run_script(script: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS.parent), env_path()])}
    return run_child([sys.executable, str(script)], env=env, capture_output=True, text=True)


def env_path() -> str:
    return os.environ.get("PYTHONPATH", "")


@pytest.mark.slow  # worker processes / a Dask cluster / a child sweep: a few seconds each
def test_resume_after_a_killed_sweep(tmp_path: Path) -> None:
    out = tmp_path / "k"
    counter = tmp_path / "count"
    script = _script(tmp_path, f"""
        from dtao.experiment import run_sweep
        from tests.support.exp import RUN_FN, VALIDATE_FN, small_experiment
        e = small_experiment(overrides={{"horizon.record_every": 60, "test.counter": {str(counter)!r}, "test.kill_on": 4}})
        run_sweep(e, {str(out)!r}, executor="inprocess", run_fn=RUN_FN, validate_fn=VALIDATE_FN)
        """)
    proc = _run_script(script)
    assert proc.returncode == -9, proc.stderr  # SIGKILLed in the middle of its 4th run
    store = Store(out)
    assert len(store.finished_ids()) == 3
    assert [p.name for p in store.tmp_dir.iterdir()][0].startswith("p0001-r001")  # the half-written run
    e = small_experiment(overrides={"horizon.record_every": 60, "test.counter": str(counter), "test.kill_on": 4})
    res = sweep(e, out, executor="processes", workers=2, resume=True)
    assert res.n_skipped == 3 and res.n_executed == 5 and res.complete and res.n_done == 8
    assert not any(store.tmp_dir.iterdir())
    got = store_content(out)
    assert got == uninterrupted(tmp_path)  # nothing missing, nothing extra, same results
    df = query(out, "SELECT run_id, count(*) AS n FROM runs GROUP BY 1")
    assert len(df) == 8 and (df.n == 1).all()
    sessions = [json.loads(x) for x in (out / "sweeps.jsonl").read_text().splitlines()]
    assert [s["executed"] for s in sessions] == [5]  # the killed session never wrote its log line
    # resuming a complete sweep runs nothing
    again = sweep(e, out, executor="inprocess", resume=True)
    assert again.n_executed == 0 and again.n_skipped == 8


@pytest.mark.slow  # worker processes / a Dask cluster / a child sweep: a few seconds each
def test_ctrl_c_keeps_finished_runs_and_resume_completes(tmp_path: Path) -> None:
    out = tmp_path / "i"
    counter = tmp_path / "count"
    script = _script(tmp_path, f"""
        import json, os, signal, sys
        from dtao.experiment import run_sweep, SweepInterrupted
        from tests.support.exp import RUN_FN, VALIDATE_FN, small_experiment
        from tests.support.hooks import DRIVER_PID_ENV
        if __name__ == "__main__":  # the process pool's spawned workers import this file
            os.environ[DRIVER_PID_ENV] = str(os.getpid())  # the workers' test.sigint_on interrupts this process
            # Ctrl-C as a terminal delivers it: this process may have inherited SIGINT ignored or
            # blocked from the test runner's worker, where it would never arrive
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGINT}})
            signal.signal(signal.SIGINT, signal.default_int_handler)
            e = small_experiment(overrides={{"horizon.record_every": 60, "test.counter": {str(counter)!r},
                                             "test.sigint_on": 3}})
            try:
                run_sweep(e, {str(out)!r}, executor="processes", workers=2, run_fn=RUN_FN,
                          validate_fn=VALIDATE_FN)
            except SweepInterrupted as exc:
                r = exc.result
                print(json.dumps({{"done": r.n_done, "missing": r.n_missing}}))
                sys.exit(130)
        """)
    proc = _run_script(script)
    assert proc.returncode == 130, proc.stderr
    first = json.loads(proc.stdout.strip().splitlines()[-1])
    assert first["missing"] > 0
    store = Store(out)
    assert len(store.finished_ids()) == first["done"]
    e = small_experiment(overrides={"horizon.record_every": 60, "test.counter": str(counter), "test.sigint_on": 3})
    assert DRIVER_PID_ENV not in os.environ  # so the resume below, in this process, interrupts nobody
    res = sweep(e, out, executor="inprocess", resume=True)
    assert res.complete and res.n_done == 8 and res.n_executed == first["missing"]
    assert store_content(out) == uninterrupted(tmp_path)


def test_sweep_interrupted_in_process_raises_with_result(tmp_path: Path) -> None:
    seen = []

    def stop_after_two(outcome):
        seen.append(outcome.run_id)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(SweepInterrupted) as ei:
        sweep(small_experiment(), tmp_path / "s", executor="inprocess", on_outcome=stop_after_two)
    r = ei.value.result
    assert r.interrupted and r.n_done == 2 and r.n_missing == 6
    # the catalog holds what finished, even though the session was interrupted
    df = query(tmp_path / "s", "SELECT status, count(*) AS n FROM runs GROUP BY 1 ORDER BY 1")
    assert dict(zip(df.status, df.n)) == {"done": 2, "pending": 6}


def test_resume_refuses_a_different_plan(reference: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    with pytest.raises(StoreError, match="already holds an experiment"):
        sweep(small_experiment(), out, executor="inprocess")
    with pytest.raises(StoreError, match="seed differs"):
        sweep(small_experiment(seed=1), out, executor="inprocess", resume=True)
    with pytest.raises(StoreError, match="overrides differs"):
        sweep(small_experiment(overrides={"horizon.record_every": 60, "initial.n_subnets": 5}), out, executor="inprocess", resume=True)
    with pytest.raises(StoreError, match="not in the new plan"):
        sweep(small_experiment(replications=1), out, executor="inprocess", resume=True)
    # more replications: only the new runs execute, the old ones stay valid
    res = sweep(small_experiment(replications=3), out, executor="inprocess", resume=True)
    assert res.n_skipped == 8 and res.n_executed == 4 and res.n_runs == 12
    # resuming with no experiment reads the stored one
    assert sweep(None, out, executor="inprocess", resume=True).n_executed == 0


def test_retry_failed_reruns_only_failed_runs(tmp_path: Path) -> None:
    e = small_experiment(replications=1, grid={"test.fail": (False, True)})
    out = tmp_path / "r"
    assert sweep(e, out, executor="inprocess").n_failed == 1
    res = sweep(e, out, executor="inprocess", resume=True)
    assert res.n_executed == 0 and res.n_failed == 1
    res = sweep(e, out, executor="inprocess", resume=True, retry_failed=True)
    assert res.n_executed == 1 and res.n_failed == 1


def test_bad_input_fails_before_any_run(tmp_path: Path) -> None:
    e = small_experiment(grid={"chain.tao_weight": (0.1, 2.0)})
    with pytest.raises(ExperimentError, match=r"point 1 \(chain.tao_weight=2.0\) does not make a valid scenario"):
        sweep(e, tmp_path / "b", executor="inprocess")
    assert not (tmp_path / "b").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="not an experiment folder"):
        sweep(small_experiment(), tmp_path / "busy", executor="inprocess")
    with pytest.raises(ValueError, match="unknown executor"):
        sweep(small_experiment(), tmp_path / "x", executor="threads")


def test_second_writer_is_refused(reference: Path) -> None:
    store = Store(reference)
    store.lock()
    try:
        with pytest.raises(StoreError, match="another sweep is writing"):
            sweep(small_experiment(), reference, executor="inprocess", resume=True)
    finally:
        store.unlock()


def test_catalog_is_rebuilt_when_missing_or_locked(reference: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "c"
    shutil.copytree(reference, out)
    (out / "catalog.duckdb").unlink()
    assert query(out, "SELECT count(*) AS n FROM runs WHERE status = 'done'").n[0] == 8
    con = duckdb.connect(str(reference / "catalog.duckdb"))  # a writer holds the file
    try:
        assert query(reference, "SELECT count(*) AS n FROM runs").n[0] == 8
    finally:
        con.close()


def test_ctrl_c_is_taken_as_a_flag_while_the_driver_waits() -> None:
    """Ctrl-C during a process sweep is raised only where the driver checks for it (never inside
    concurrent.futures' locks), none is lost, and Python's own handling comes back afterwards."""
    import signal

    from dtao.experiment.executors import _DeferredInterrupt

    # Python's own Ctrl-C handling, as in a terminal (a test runner's worker may ignore or block it)
    saved = signal.signal(signal.SIGINT, signal.default_int_handler)
    mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:
        d = _DeferredInterrupt()
        d.start()
        try:
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            signal.raise_signal(signal.SIGINT)  # taken as a flag: nothing raised here
            assert d.hit
            with pytest.raises(KeyboardInterrupt):
                d.check()
            d.check()  # acted on once
            signal.raise_signal(signal.SIGINT)
        finally:
            with pytest.raises(KeyboardInterrupt):  # taken after the last check: raised when it stops
                d.stop(redeliver=True)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        d2 = _DeferredInterrupt()
        d2.start()
        signal.raise_signal(signal.SIGINT)
        d2.stop(redeliver=False)  # already stopping for another reason: not raised twice
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # someone else's handling is left alone
        d3 = _DeferredInterrupt()
        d3.start()
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        d3.stop(redeliver=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        signal.signal(signal.SIGINT, saved)
