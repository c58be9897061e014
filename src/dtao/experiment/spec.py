"""Experiment definitions: what to run many times.

An experiment is a base scenario, fixed overrides, parameters to vary (a Cartesian grid and/or a
sampled design: random, Latin hypercube or Sobol), a number of replications per point and one seed
from which every run's seed is spawned.  It is written as a TOML file (see ``docs/experiments.md``)
or assembled from command-line flags; either way it becomes a frozen :class:`Experiment`, validated
here so that a typo fails before any run starts, with an error naming the offending key.

Parameter names are the scenario's dotted override keys (``chain.tao_weight``,
``chain.emission_rule``, ``horizon.days`` ...), exactly what ``dtao.scenario.load_scenario``
accepts as ``overrides``.
"""
from __future__ import annotations

import hashlib
import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

SAMPLE_METHODS: tuple[str, ...] = ("random", "lhs", "sobol")
SEEDING_MODES: tuple[str, ...] = ("independent", "common")
_RANGE_KEYS = frozenset({"low", "high", "scale", "type", "choices"})
_EXPERIMENT_KEYS = frozenset({"name", "description", "scenario", "seed", "replications", "days", "blocks",
                              "seeding", "record_plots"})
_TOP_KEYS = frozenset({"experiment", "overrides", "grid", "sample", "report"})
_SAMPLE_KEYS = frozenset({"method", "n", "parameters"})
_REPORT_KEYS = frozenset({"metrics", "x"})


class ExperimentError(ValueError):
    """An experiment file or flag set that cannot be run; the message names the problem."""


@dataclass(frozen=True)
class ParamRange:
    """One sampled parameter: a continuous range (``low``..``high``, linear or log scale), an integer
    range (both ends included) or a finite set of ``choices`` (drawn uniformly)."""

    key: str
    low: float | None = None
    high: float | None = None
    scale: str = "linear"  # "linear" | "log"
    type: str = "float"  # "float" | "int"
    choices: tuple[Any, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form (recorded in ``experiment.json``)."""
        if self.choices is not None:
            return {"key": self.key, "choices": list(self.choices)}
        return {"key": self.key, "low": self.low, "high": self.high, "scale": self.scale, "type": self.type}


@dataclass(frozen=True)
class SampleSpec:
    """A sampled design: ``n`` points drawn by ``method`` over ``parameters``."""

    method: str
    n: int
    parameters: tuple[ParamRange, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {"method": self.method, "n": self.n, "parameters": [p.to_json() for p in self.parameters]}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment.

    ``scenario`` is a built-in scenario name or an absolute path to a scenario TOML file;
    ``overrides`` apply to every run; ``grid`` maps a dotted key to the list of its values (the
    Cartesian product of all grid axes is taken, in file order); ``sample`` adds a sampled design,
    crossed with the grid.  ``days``/``blocks`` override the scenario's horizon (None keeps it).
    ``seed`` is the root of the experiment's ``SeedSequence``; None means "draw one from the OS at
    planning time and record it".  ``seeding="independent"`` gives every run its own seed;
    ``"common"`` gives replication r the same seed at every point (common random numbers, for
    paired comparisons between points).
    """

    name: str
    scenario: str
    description: str = ""
    seed: int | None = None
    replications: int = 1
    days: float | None = None
    blocks: int | None = None
    seeding: str = "independent"
    record_plots: bool = False
    overrides: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    sample: SampleSpec | None = None
    report_metrics: tuple[str, ...] = ()
    report_x: str | None = None
    source_path: str | None = None

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def varied_keys(self) -> tuple[str, ...]:
        """Dotted keys that vary between points: grid axes then sampled parameters."""
        keys = tuple(self.grid)
        if self.sample is not None:
            keys += tuple(p.key for p in self.sample.parameters)
        return keys

    @property
    def n_points(self) -> int:
        """Number of distinct parameter points (grid size times sample size)."""
        n = 1
        for vals in self.grid.values():
            n *= len(vals)
        if self.sample is not None:
            n *= self.sample.n
        return n

    @property
    def n_runs(self) -> int:
        """Points times replications."""
        return self.n_points * self.replications

    def with_(self, **changes: Any) -> "Experiment":
        """A copy with fields changed (validated again)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Plain-JSON form, as recorded in ``experiment.json``."""
        return {
            "name": self.name, "description": self.description, "scenario": self.scenario,
            "seed": self.seed, "replications": self.replications, "days": self.days, "blocks": self.blocks,
            "seeding": self.seeding, "record_plots": self.record_plots, "overrides": dict(self.overrides),
            "grid": {k: list(v) for k, v in self.grid.items()},
            "sample": self.sample.to_json() if self.sample else None,
            "report": {"metrics": list(self.report_metrics), "x": self.report_x},
            "source_path": self.source_path,
        }


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (bool, int, float, str))


def _check_key(key: str, where: str) -> None:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ExperimentError(f"{where}: {key!r} is not a dotted parameter key like 'chain.tao_weight'")


def _validate(e: Experiment) -> None:
    if not isinstance(e.name, str) or not e.name.strip():
        raise ExperimentError("experiment.name must be a non-empty string")
    if not isinstance(e.scenario, str) or not e.scenario:
        raise ExperimentError("experiment.scenario must name a built-in scenario or a scenario TOML file")
    if e.seed is not None and (isinstance(e.seed, bool) or not isinstance(e.seed, int) or e.seed < 0):
        raise ExperimentError(f"experiment.seed must be a non-negative integer, got {e.seed!r}")
    if isinstance(e.replications, bool) or not isinstance(e.replications, int) or e.replications < 1:
        raise ExperimentError(f"replications must be an integer >= 1, got {e.replications!r}")
    if e.days is not None:
        if isinstance(e.days, bool) or not isinstance(e.days, (int, float)) or not math.isfinite(e.days) \
                or e.days <= 0:
            raise ExperimentError(f"days must be a positive number, got {e.days!r}")
    if e.blocks is not None:
        if isinstance(e.blocks, bool) or not isinstance(e.blocks, int) or e.blocks < 1:
            raise ExperimentError(f"blocks must be a positive integer, got {e.blocks!r}")
    if e.days is not None and e.blocks is not None:
        raise ExperimentError("give either days or blocks for the horizon, not both")
    if e.seeding not in SEEDING_MODES:
        raise ExperimentError(f"seeding must be one of {SEEDING_MODES}, got {e.seeding!r}")
    for k, v in e.overrides.items():
        _check_key(k, "overrides")
        if v is None:
            raise ExperimentError(f"overrides.{k}: a value is required")
    for k, vals in e.grid.items():
        _check_key(k, "grid")
        if not isinstance(vals, tuple) or len(vals) == 0:
            raise ExperimentError(f"grid.{k} must be a non-empty list of values "
                                  "(a single fixed value belongs in [overrides])")
        if len(set(map(repr, vals))) != len(vals):
            raise ExperimentError(f"grid.{k} lists a value twice: {list(vals)}")
        if k in e.overrides:
            raise ExperimentError(f"{k} is both fixed in [overrides] and varied in [grid]")
    if e.sample is not None:
        s = e.sample
        if s.method not in SAMPLE_METHODS:
            raise ExperimentError(f"sample.method must be one of {SAMPLE_METHODS}, got {s.method!r}")
        if isinstance(s.n, bool) or not isinstance(s.n, int) or s.n < 1:
            raise ExperimentError(f"sample.n must be an integer >= 1, got {s.n!r}")
        if s.method == "sobol" and s.n & (s.n - 1):
            lo = 1 << (s.n.bit_length() - 1)
            raise ExperimentError(f"sample.method 'sobol' needs n a power of two to keep its balance "
                                  f"(got {s.n}); use {lo} or {lo * 2}, or method 'lhs'")
        if not s.parameters:
            raise ExperimentError("sample.parameters is empty: name at least one parameter range")
        seen = set()
        for p in s.parameters:
            _check_key(p.key, "sample.parameters")
            if p.key in seen:
                raise ExperimentError(f"sample.parameters.{p.key} is given twice")
            seen.add(p.key)
            if p.key in e.grid or p.key in e.overrides:
                raise ExperimentError(f"{p.key} is sampled and also set in [grid] or [overrides]")
            _validate_range(p)
    for m in e.report_metrics:
        if not isinstance(m, str) or not m:
            raise ExperimentError("report.metrics must be a list of summary metric names")


def _validate_range(p: ParamRange) -> None:
    where = f"sample.parameters.{p.key}"
    if p.choices is not None:
        if p.low is not None or p.high is not None:
            raise ExperimentError(f"{where}: give either choices or low/high, not both")
        if len(p.choices) == 0 or not all(_is_scalar(c) for c in p.choices):
            raise ExperimentError(f"{where}: choices must be a non-empty list of numbers, strings or booleans")
        return
    for name in ("low", "high"):
        v = getattr(p, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ExperimentError(f"{where}: {name} must be a finite number, got {v!r}")
    if not p.low < p.high:  # type: ignore[operator]
        raise ExperimentError(f"{where}: low ({p.low}) must be below high ({p.high})")
    if p.scale not in ("linear", "log"):
        raise ExperimentError(f"{where}: scale must be 'linear' or 'log', got {p.scale!r}")
    if p.type not in ("float", "int"):
        raise ExperimentError(f"{where}: type must be 'float' or 'int', got {p.type!r}")
    if p.scale == "log" and p.low <= 0:  # type: ignore[operator]
        raise ExperimentError(f"{where}: a log scale needs low > 0, got {p.low}")
    if p.type == "int" and (p.low != int(p.low) or p.high != int(p.high)):  # type: ignore[arg-type]
        raise ExperimentError(f"{where}: an int range needs whole-number ends, got {p.low}..{p.high}")


def _flatten(table: Mapping[str, Any], where: str, *, stop_at_ranges: bool = False,
             prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables -> dotted keys.  ``{"chain": {"tao_weight": 0.1}}`` -> ``{"chain.tao_weight": 0.1}``."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and not (stop_at_ranges and v and set(v) <= _RANGE_KEYS):
            if not v:
                raise ExperimentError(f"{where}.{key} is an empty table")
            out.update(_flatten(v, where, stop_at_ranges=stop_at_ranges, prefix=key))
        else:
            if key in out:
                raise ExperimentError(f"{where}.{key} is given twice")
            out[key] = v
    return out


def _unknown(d: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise ExperimentError(f"unknown key(s) in {where}: {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")


def parse_range(key: str, spec: Any) -> ParamRange:
    """A sampled parameter from its TOML table ``{low, high, scale?, type?}`` or ``{choices}``."""
    if not isinstance(spec, dict):
        raise ExperimentError(f"sample.parameters.{key} must be a table like {{ low = 0.1, high = 0.3 }} "
                              f"or {{ choices = [...] }}, got {spec!r}")
    _unknown(spec, _RANGE_KEYS, f"sample.parameters.{key}")
    choices = spec.get("choices")
    if choices is not None:
        if not isinstance(choices, list):
            raise ExperimentError(f"sample.parameters.{key}.choices must be a list")
        choices = tuple(choices)
    return ParamRange(key=key, low=spec.get("low"), high=spec.get("high"), scale=spec.get("scale", "linear"),
                      type=spec.get("type", "float"), choices=choices)


def experiment_from_dict(doc: Mapping[str, Any], *, base_dir: Path | None = None,
                         source_path: str | None = None, default_name: str = "experiment") -> Experiment:
    """Build an :class:`Experiment` from a parsed TOML document.  A scenario given as a relative
    path (ending in ``.toml`` or naming an existing file) is resolved against ``base_dir``."""
    _unknown(doc, _TOP_KEYS, "the experiment file (top level)")
    head = doc.get("experiment", {})
    if not isinstance(head, dict):
        raise ExperimentError("[experiment] must be a table")
    _unknown(head, _EXPERIMENT_KEYS, "[experiment]")
    if "scenario" not in head:
        raise ExperimentError("[experiment] needs scenario = \"<built-in name or path to a scenario TOML>\"")
    scenario = resolve_scenario_ref(head["scenario"], base_dir)
    overrides = _flatten(doc.get("overrides", {}), "overrides")
    grid_raw = _flatten(doc.get("grid", {}), "grid")
    grid: dict[str, tuple[Any, ...]] = {}
    for k, v in grid_raw.items():
        if not isinstance(v, list):
            raise ExperimentError(f"grid.{k} must be a list of values, got {v!r} "
                                  "(a single fixed value belongs in [overrides])")
        grid[k] = tuple(v)
    sample = None
    if "sample" in doc:
        s = doc["sample"]
        if not isinstance(s, dict):
            raise ExperimentError("[sample] must be a table")
        _unknown(s, _SAMPLE_KEYS, "[sample]")
        for req in ("method", "n", "parameters"):
            if req not in s:
                raise ExperimentError(f"[sample] needs {req}")
        params_raw = _flatten(s["parameters"], "sample.parameters", stop_at_ranges=True)
        sample = SampleSpec(method=s["method"], n=s["n"],
                            parameters=tuple(parse_range(k, v) for k, v in params_raw.items()))
    rep = doc.get("report", {})
    _unknown(rep, _REPORT_KEYS, "[report]")
    metrics = rep.get("metrics", [])
    if not isinstance(metrics, list):
        raise ExperimentError("report.metrics must be a list of summary metric names")
    return Experiment(
        name=head.get("name", default_name), scenario=scenario, description=head.get("description", ""),
        seed=head.get("seed"), replications=head.get("replications", 1), days=head.get("days"),
        blocks=head.get("blocks"), seeding=head.get("seeding", "independent"),
        record_plots=bool(head.get("record_plots", False)), overrides=overrides, grid=grid, sample=sample,
        report_metrics=tuple(metrics), report_x=rep.get("x"), source_path=source_path)


def resolve_scenario_ref(ref: Any, base_dir: Path | None) -> str:
    """A built-in scenario name stays as is; a path is made absolute (relative to ``base_dir``)."""
    if not isinstance(ref, str) or not ref:
        raise ExperimentError(f"experiment.scenario must be a string, got {ref!r}")
    p = Path(ref)
    looks_like_path = ref.endswith(".toml") or "/" in ref or "\\" in ref
    if not p.is_absolute() and base_dir is not None:
        cand = (base_dir / p)
        if looks_like_path or cand.is_file():
            p = cand
    if looks_like_path or p.is_file():
        if not p.is_file():
            raise ExperimentError(f"scenario file not found: {p}")
        return str(p.resolve())
    return ref


def builtin_dir() -> Path:
    """Folder holding the built-in experiment files shipped with the package."""
    return Path(str(resources.files("dtao.experiment") / "builtin"))


def builtin_experiments() -> dict[str, Path]:
    """Built-in experiments by name (file stem) -> path."""
    d = builtin_dir()
    return {p.stem: p for p in sorted(d.glob("*.toml"))} if d.is_dir() else {}


def load_experiment(source: str | Path) -> Experiment:
    """Load an experiment from a TOML file path or a built-in name (``dtao sweep mechanisms``)."""
    p = Path(source)
    if not p.is_file():
        builtins = builtin_experiments()
        if str(source) in builtins:
            p = builtins[str(source)]
        else:
            names = ", ".join(builtins) or "none"
            raise ExperimentError(f"no experiment file {str(source)!r} and no built-in experiment of that name "
                                  f"(built-in: {names})")
    try:
        doc = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{p}: not valid TOML: {exc}") from None
    return experiment_from_dict(doc, base_dir=p.parent, source_path=str(p.resolve()), default_name=p.stem)


def scenario_fingerprint(scenario: str) -> dict[str, Any]:
    """What identifies the base scenario: a file's path and SHA-256, or a built-in name."""
    p = Path(scenario)
    if p.is_absolute() and p.is_file():
        return {"kind": "file", "source": scenario, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
    return {"kind": "builtin", "source": scenario, "sha256": None}


def parse_value(text: str) -> Any:
    """A command-line value read as a TOML literal (``0.1``, ``true``, ``"flow"``, ``[1, 2]``); a bare
    word that is not a TOML literal is kept as a string (``flow``)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignment(text: str, what: str) -> tuple[str, str]:
    """``KEY=VALUE`` -> (key, raw value); error naming the flag otherwise."""
    if "=" not in text:
        raise ExperimentError(f"{what} expects KEY=VALUE, got {text!r}")
    k, v = text.split("=", 1)
    k = k.strip()
    _check_key(k, what)
    return k, v.strip()


def split_list(text: str) -> list[str]:
    """Split ``a,b,c`` on commas outside brackets and quotes."""
    out, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
            cur.append(ch)
        elif ch in "[{":
            depth += 1
            cur.append(ch)
        elif ch in "]}":
            depth -= 1
            cur.append(ch)
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if cur or out:
        out.append("".join(cur).strip())
    return [x for x in out if x != ""]


def experiment_from_flags(base: Experiment | None, *, scenario: str | None = None,
                          sets: list[str] | None = None, grids: list[str] | None = None,
                          sample: str | None = None, ranges: list[str] | None = None,
                          seed: int | None = None, replications: int | None = None,
                          days: float | None = None, name: str | None = None,
                          seeding: str | None = None) -> Experiment:
    """Apply command-line flags to ``base`` (or build an experiment from flags alone).

    ``sets``: ``KEY=VALUE`` fixed overrides; ``grids``: ``KEY=V1,V2,...`` grid axes (replacing an axis
    of the same key); ``sample``: ``METHOD:N``; ``ranges``: ``KEY=LOW:HIGH[:log][:int]`` or
    ``KEY=a|b|c`` (choices)."""
    if base is None:
        if scenario is None:
            raise ExperimentError("give an EXPERIMENT (file or built-in name) or --scenario")
        base = Experiment(name=name or "sweep", scenario=resolve_scenario_ref(scenario, Path.cwd()))
    changes: dict[str, Any] = {}
    if scenario is not None:
        changes["scenario"] = resolve_scenario_ref(scenario, Path.cwd())
    overrides = dict(base.overrides)
    grid = dict(base.grid)
    for s in sets or []:
        k, v = parse_assignment(s, "--set")
        grid.pop(k, None)
        overrides[k] = parse_value(v)
    for g in grids or []:
        k, v = parse_assignment(g, "--grid")
        vals = [parse_value(x) for x in split_list(v)]
        if not vals:
            raise ExperimentError(f"--grid {k}= needs at least one value")
        overrides.pop(k, None)
        grid[k] = tuple(vals)
    changes["overrides"] = overrides
    changes["grid"] = grid
    if sample is not None or ranges:
        method, n = (base.sample.method, base.sample.n) if base.sample else ("lhs", 0)
        if sample is not None:
            if ":" not in sample:
                raise ExperimentError(f"--sample expects METHOD:N (e.g. lhs:16), got {sample!r}")
            method, n_txt = sample.split(":", 1)
            try:
                n = int(n_txt)
            except ValueError:
                raise ExperimentError(f"--sample {sample!r}: N must be an integer") from None
        params = {p.key: p for p in (base.sample.parameters if base.sample else ())}
        for r in ranges or []:
            k, v = parse_assignment(r, "--range")
            params[k] = _range_from_flag(k, v)
            overrides.pop(k, None)
            grid.pop(k, None)
        if n == 0:
            raise ExperimentError("--range needs --sample METHOD:N to say how many points to draw")
        changes["sample"] = SampleSpec(method=method, n=n, parameters=tuple(params.values()))
    if seed is not None:
        changes["seed"] = seed
    if replications is not None:
        changes["replications"] = replications
    if days is not None:
        changes["days"] = days
        changes["blocks"] = None
    if name is not None:
        changes["name"] = name
    if seeding is not None:
        changes["seeding"] = seeding
    return base.with_(**changes)


def _range_from_flag(key: str, text: str) -> ParamRange:
    if "|" in text:
        return ParamRange(key=key, choices=tuple(parse_value(x) for x in text.split("|")))
    parts = text.split(":")
    if len(parts) < 2:
        raise ExperimentError(f"--range {key}={text!r}: expected LOW:HIGH[:log][:int] or a|b|c")
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise ExperimentError(f"--range {key}={text!r}: LOW and HIGH must be numbers") from None
    scale, typ = "linear", "float"
    for extra in parts[2:]:
        if extra == "log":
            scale = "log"
        elif extra == "int":
            typ = "int"
        else:
            raise ExperimentError(f"--range {key}={text!r}: unknown option {extra!r} (log, int)")
    return ParamRange(key=key, low=low, high=high, scale=scale, type=typ)


def experiment_from_json(doc: Mapping[str, Any]) -> Experiment:
    """Rebuild an :class:`Experiment` from its :meth:`Experiment.to_json` form."""
    sample = None
    if doc.get("sample"):
        s = doc["sample"]
        params = []
        for p in s["parameters"]:
            if "choices" in p:
                params.append(ParamRange(key=p["key"], choices=tuple(p["choices"])))
            else:
                params.append(ParamRange(key=p["key"], low=p["low"], high=p["high"], scale=p["scale"],
                                         type=p["type"]))
        sample = SampleSpec(method=s["method"], n=s["n"], parameters=tuple(params))
    rep = doc.get("report") or {}
    return Experiment(
        name=doc["name"], scenario=doc["scenario"], description=doc.get("description", ""), seed=doc.get("seed"),
        replications=doc["replications"], days=doc.get("days"), blocks=doc.get("blocks"),
        seeding=doc.get("seeding", "independent"), record_plots=doc.get("record_plots", False),
        overrides=dict(doc.get("overrides") or {}), grid={k: tuple(v) for k, v in (doc.get("grid") or {}).items()},
        sample=sample, report_metrics=tuple(rep.get("metrics") or ()), report_x=rep.get("x"),
        source_path=doc.get("source_path"))
