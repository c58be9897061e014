"""The conformance suite from ../shared/conformance: every case must pass, and the CLI reports it."""
from __future__ import annotations

import json
import sys

import pytest

from dtao.conformance.runner import load_cases, run_case
from tests.conftest import conformance_files
from tests.support.child import run_child


def _cases():
    out = []
    for f in conformance_files():
        for c in load_cases(f):
            out.append(pytest.param(c, id=c["id"]))
    return out


@pytest.mark.parametrize("case", _cases())
def test_case(case):
    r = run_case(case)
    assert r.status == "pass", r.message


def test_suite_is_complete():
    files = conformance_files()
    kinds = {c["kind"] for f in files for c in load_cases(f)}
    assert {"coinbase", "epoch", "epoch_math", "swap_tao_for_alpha", "max_amount_move", "moving_price"} <= kinds
    assert sum(len(load_cases(f)) for f in files) >= 221


def test_cli_reports_passed_and_json():
    files = [str(f) for f in conformance_files()]
    p = run_child([sys.executable, "-m", "dtao", "conformance", "run", *files], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    last = p.stdout.strip().splitlines()[-1]
    n = sum(len(load_cases(f)) for f in conformance_files())
    assert last == f"conformance: {n}/{n} passed"
    p = run_child([sys.executable, "-m", "dtao", "conformance", "run", "--json", *files], capture_output=True, text=True)
    doc = json.loads(p.stdout)
    assert doc["schema"] == "dtao-conformance-result/1" and doc["passed"] == doc["total"] == n
    assert all(set(r) >= {"id", "kind", "status", "got", "message"} for r in doc["results"])


def test_cli_fails_on_a_wrong_case(tmp_path):
    case = load_cases(conformance_files()[0])[0]
    bad = dict(case, id="tampered", expect={k: (v + 12345 if isinstance(v, int) else v) for k, v in case["expect"].items()})
    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"schema": "dtao-conformance/1", "era": "x", "cases": [case, bad]}))
    p = run_child([sys.executable, "-m", "dtao", "conformance", "run", str(f)], capture_output=True, text=True)
    assert p.returncode == 1
    assert p.stdout.strip().splitlines()[-1] == "conformance: 1/2 passed"


def test_cli_missing_file_is_a_clear_error(tmp_path):
    p = run_child([sys.executable, "-m", "dtao", "conformance", "run", str(tmp_path / "nope.json")],
                  capture_output=True, text=True)
    assert p.returncode == 2 and "not found" in p.stderr


def test_cli_takes_directories(tmp_path):
    from dtao.conformance.runner import conformance_files as expand

    root = conformance_files()[0].parents[1]  # ../shared/conformance (its era folders inside)
    assert expand([root]) == sorted(root.rglob("*.json")) == sorted(conformance_files())
    p = run_child([sys.executable, "-m", "dtao", "conformance", "run", str(root)], capture_output=True, text=True)
    n = sum(len(load_cases(f)) for f in conformance_files())
    assert p.returncode == 0 and p.stdout.strip().splitlines()[-1] == f"conformance: {n}/{n} passed"
    # a directory with no conformance file, or one whose JSON is not a conformance file: clear errors
    p = run_child([sys.executable, "-m", "dtao", "conformance", "run", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 2 and f"no conformance files (*.json) under {tmp_path}" in p.stderr
    (tmp_path / "other.json").write_text("{}")
    p = run_child([sys.executable, "-m", "dtao", "conformance", "run", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 2 and "schema is not 'dtao-conformance/1'" in p.stderr and "Traceback" not in p.stderr
