"""Run function for the experiment tests: the shipped run function (``load_scenario`` +
``run_scenario``) wrapped with fault-injection hooks.

Overrides with the ``test.`` prefix are consumed here and never reach the scenario layer:

- ``test.fail`` (bool): raise RuntimeError after the run (a run that raises);
- ``test.die`` (bool): end this process at once with ``os._exit(3)`` (a worker that dies);
- ``test.counter`` (path) + ``test.kill_on`` (int): count runs started in a file; the run that makes
  the count ``kill_on`` writes a partial file into its folder and SIGKILLs its own process (a
  sweep killed mid-run);
- ``test.counter`` + ``test.sigint_on`` (int): that run sends SIGINT to the sweep's driver (Ctrl-C at
  the driver, for the process-pool executor) and carries on.  The driver names itself in the
  environment (:data:`DRIVER_PID_ENV`, inherited by its workers); where no driver is named (a resume
  inside the test process) nothing is sent.  Never to the parent process as such: a run executed in
  the test process would interrupt whatever started the tests (``make``, pytest-xdist's controller).

Everything else goes to ``BASE_RUN`` / ``BASE_VALIDATE``.
"""
from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path
from typing import Any, Mapping

from dtao.experiment.runner import scenario_run, validate_scenario

#: environment variable naming the process that ``test.sigint_on`` interrupts (the sweep's driver)
DRIVER_PID_ENV = "DTAO_TEST_SWEEP_DRIVER_PID"

BASE_RUN = scenario_run
BASE_VALIDATE = validate_scenario


def _split(overrides: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    hooks = {k[5:]: v for k, v in overrides.items() if k.startswith("test.")}
    rest = {k: v for k, v in overrides.items() if not k.startswith("test.")}
    return hooks, rest


def _bump(counter: str) -> int:
    with open(counter, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        n = int(fh.read().strip() or 0) + 1
        fh.seek(0)
        fh.truncate()
        fh.write(str(n))
        fh.flush()
        return n


def validate(scenario: str, overrides: Mapping[str, Any]) -> None:
    _, rest = _split(overrides)
    BASE_VALIDATE(scenario, rest)


def run(scenario: str, overrides: Mapping[str, Any], *, seed: int, days: float | None, blocks: int | None,
        out_dir: Path, record_plots: bool) -> Mapping[str, Any]:
    hooks, rest = _split(overrides)
    if hooks.get("die"):
        os._exit(3)
    if "counter" in hooks:
        n = _bump(hooks["counter"])
        if n == hooks.get("kill_on"):
            (Path(out_dir) / "partial.parquet").write_bytes(b"PAR1 half-written")
            os.kill(os.getpid(), signal.SIGKILL)
        driver = os.environ.get(DRIVER_PID_ENV)
        if n == hooks.get("sigint_on") and driver:
            os.kill(int(driver), signal.SIGINT)
    summary = BASE_RUN(scenario, rest, seed=seed, days=days, blocks=blocks, out_dir=out_dir,
                       record_plots=record_plots)
    if hooks.get("fail"):
        raise RuntimeError("injected failure (test.fail)")
    return summary
