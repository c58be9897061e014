"""Load conformance files, run each case through its adapter and compare with tolerances."""
from __future__ import annotations

import json
import math
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dtao.conformance.registry import ADAPTERS

SCHEMA = "dtao-conformance/1"
RESULT_SCHEMA = "dtao-conformance-result/1"

U16_FIELDS = {"Incentive", "Dividends", "Consensus", "Trust", "ValidatorTrust", "PruningScores", "Bonds", "u16"}
FLOAT_FIELDS = {"SubnetMovingPrice"}
INT_FIELDS = {"BlocksSinceLastStep", "block", "netuid"}
EXACT_EQ_FIELDS = {"ValidatorPermit", "topk", "error"}


@dataclass
class CaseResult:
    """Outcome of one conformance case."""

    id: str
    kind: str
    status: str  # "pass" | "fail" | "error"
    got: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "got": self.got, "message": self.message}


class ConformanceFileError(Exception):
    """A conformance file is missing, unreadable or not of schema ``dtao-conformance/1``."""


def load_cases(path: Path) -> list[dict[str, Any]]:
    """Read one conformance file and return its cases; raises ConformanceFileError with the reason."""
    path = Path(path)
    if not path.exists():
        raise ConformanceFileError(f"conformance file not found: {path}")
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConformanceFileError(f"{path}: not valid JSON ({exc})") from exc
    except OSError as exc:
        raise ConformanceFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ConformanceFileError(f"{path}: schema is not {SCHEMA!r}")
    cases = doc.get("cases")
    if not isinstance(cases, list):
        raise ConformanceFileError(f"{path}: 'cases' must be a list")
    return cases


def _field_tol(tol: Any, path: list[str]) -> Any:
    """Resolve the tolerance that applies to a value at ``path`` (nearest enclosing key, then '*')."""
    if tol == "exact" or tol is None:
        return "exact"
    if isinstance(tol, dict) and ("abs" in tol or "rel" in tol) and not any(isinstance(v, (dict, str)) for v in tol.values()):
        return tol
    if isinstance(tol, dict):
        for key in reversed(path):
            if key in tol:
                return tol[key]
        return tol.get("*", "exact")
    return "exact"


def _field_type(path: list[str]) -> str:
    for key in reversed(path):
        if key in U16_FIELDS:
            return "u16"
        if key in FLOAT_FIELDS:
            return "float"
        if key in INT_FIELDS:
            return "int"
        if key in EXACT_EQ_FIELDS:
            return "eq"
    return "rao"


def _num_ok(got: float, exp: float, tol: Any, ftype: str, in_epoch_math: bool) -> bool:
    if isinstance(got, bool) or isinstance(exp, bool):
        return got == exp
    if got is None or (isinstance(got, float) and math.isnan(got)):
        return False
    d = abs(float(got) - float(exp))
    if tol != "exact":
        return d <= max(float(tol.get("abs", 0.0)), float(tol.get("rel", 0.0)) * abs(float(exp)))
    if ftype == "eq" or ftype == "int":
        return got == exp
    if ftype == "u16":
        return d <= 1
    if ftype == "float" or in_epoch_math:
        return d <= max(1e-9, 1e-9 * abs(float(exp)))
    return d <= max(2.0, 1e-9 * abs(float(exp)))


def _sparse_to_dense(rows: list[list[list[float]]], n: int) -> list[list[float]]:
    dense = [[0.0] * n for _ in rows]
    for i, row in enumerate(rows):
        for uid, val in row:
            dense[i][int(uid)] = val
    return dense


def compare(got: Any, exp: Any, tol: Any, path: list[str], in_epoch_math: bool = False) -> list[str]:
    """Return a list of mismatch descriptions ('' if every expected value is matched)."""
    errs: list[str] = []
    where = ".".join(path) or "<root>"
    if isinstance(exp, dict):
        if not isinstance(got, dict):
            return [f"{where}: expected an object, got {type(got).__name__}"]
        for key, val in exp.items():
            if key not in got:
                errs.append(f"{where}.{key}: missing from result")
                continue
            errs.extend(compare(got[key], val, tol, path + [str(key)], in_epoch_math))
        return errs
    if path and path[-1] == "Bonds" and isinstance(exp, list):
        n = max([len(exp)] + [int(u) + 1 for row in exp for u, _ in row] + [int(u) + 1 for row in (got or []) for u, _ in row])
        if not isinstance(got, list) or len(got) != len(exp):
            return [f"{where}: expected {len(exp)} rows, got {got!r}"]
        got, exp = _sparse_to_dense(got, n), _sparse_to_dense(exp, n)
    if isinstance(exp, list):
        if not isinstance(got, list) or len(got) != len(exp):
            return [f"{where}: expected list of {len(exp)}, got {got!r}"[:300]]
        for i, (g, e) in enumerate(zip(got, exp)):
            errs.extend(compare(g, e, tol, path + [str(i)], in_epoch_math))
        return errs
    ftol = _field_tol(tol, path)
    ftype = _field_type(path)
    if isinstance(exp, (str, bool)) or exp is None:
        if got != exp:
            errs.append(f"{where}: expected {exp!r}, got {got!r}")
        return errs
    if not isinstance(got, (int, float)):
        return [f"{where}: expected {exp!r}, got {got!r}"]
    if not _num_ok(got, exp, ftol, ftype, in_epoch_math):
        errs.append(f"{where}: expected {exp!r}, got {got!r} (tol {ftol})")
    return errs


def run_case(case: dict[str, Any]) -> CaseResult:
    """Run one case through its kind's adapter and compare with ``expect``."""
    cid, kind = str(case.get("id", "?")), str(case.get("kind", "?"))
    import dtao.conformance.kinds  # noqa: F401  (registers adapters)

    adapter = ADAPTERS.get(kind)
    if adapter is None:
        return CaseResult(cid, kind, "error", message=f"unknown case kind {kind!r}")
    try:
        got = adapter(case["input"])
    except Exception as exc:  # a crash in dtao is an 'error', reported with its traceback tail
        tb = traceback.format_exc(limit=3)
        return CaseResult(cid, kind, "error", message=f"{type(exc).__name__}: {exc}\n{tb}")
    errs = compare(got, case["expect"], case.get("tol", "exact"), [], in_epoch_math=(kind == "epoch_math"))
    if errs:
        return CaseResult(cid, kind, "fail", got=got, message="; ".join(errs)[:2000])
    return CaseResult(cid, kind, "pass", got=got)


def conformance_files(paths: list[Path]) -> list[Path]:
    """The files named by ``paths``, in order: a file as given, a directory as the ``*.json`` files
    under it (sorted); raises ConformanceFileError for a directory holding none."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(q for q in p.rglob("*.json") if q.is_file())
            if not found:
                raise ConformanceFileError(f"no conformance files (*.json) under {p}")
            files += found
        else:
            files.append(p)
    return files


def run_files(paths: list[Path]) -> list[CaseResult]:
    """Run every case of every file (a directory: every ``*.json`` file under it), in file order; every
    file is read and checked before any case runs."""
    cases = [case for p in conformance_files(paths) for case in load_cases(p)]
    return [run_case(case) for case in cases]


def results_json(results: list[CaseResult]) -> dict[str, Any]:
    """The ``dtao-conformance-result/1`` document."""
    return {
        "schema": RESULT_SCHEMA,
        "passed": sum(r.status == "pass" for r in results),
        "total": len(results),
        "results": [r.to_json() for r in results],
    }
