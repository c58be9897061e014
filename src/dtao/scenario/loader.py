"""Load a scenario: a built-in name or a TOML path, dotted-key overrides, one clear error.

Built-in scenarios ship as package data in ``dtao/scenarios/*.toml`` (the repository's top-level
``scenarios/`` points there), so ``load_scenario("sn28")`` works from any directory once dtao is
installed.
"""
from __future__ import annotations

import copy
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from pydantic import ValidationError

from dtao.scenario.schema import Scenario


class ScenarioError(ValueError):
    """A scenario cannot be loaded; the message names the field and the problem."""


def builtin_dir() -> Path:
    """Directory of the built-in scenario files (package data)."""
    return Path(str(resources.files("dtao") / "scenarios"))


def builtin_names() -> list[str]:
    """Names of the built-in scenarios."""
    d = builtin_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def parse_value(text: str) -> Any:
    """A ``--set`` value: a TOML literal (number, bool, string, array, inline table) or a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the raw scenario dict with dotted keys set (``agents.momentum.count`` = 200; list
    items by index, ``events.0.at_day``).  Setting ``horizon.days`` drops ``horizon.blocks`` and vice
    versa."""
    out = copy.deepcopy(raw)
    for key, value in overrides.items():
        if not isinstance(key, str) or not key or any(not p for p in key.split(".")):
            raise ScenarioError(f"override {key!r}: not a dotted key")
        parts = key.split(".")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ScenarioError(f"override {key!r}: {where} is not an index of a list of {len(node)}")
                node = node[int(part)]
            elif isinstance(node, dict):
                if part not in node:
                    node[part] = {}
                node = node[part]
                if not isinstance(node, (dict, list)):
                    raise ScenarioError(f"override {key!r}: {where} is a value, not a table")
            else:
                raise ScenarioError(f"override {key!r}: {where} is a value, not a table")
        last = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ScenarioError(f"override {key!r}: {last} is not an index of a list of {len(node)}")
            node[int(last)] = value
        else:
            node[last] = value
            if parts[:-1] == ["horizon"] and last in ("days", "blocks"):
                node.pop("blocks" if last == "days" else "days", None)
    return out


def _loc(err: dict[str, Any], raw: dict[str, Any]) -> str:
    """Dotted field path of a pydantic error, without the union tags pydantic inserts."""
    loc = list(err.get("loc", ()))
    out: list[str] = []
    node: Any = raw
    for part in loc:
        if isinstance(node, dict) and part not in node and isinstance(part, str) and out:
            # a discriminated-union tag (e.g. the agent kind): not a key of the input
            continue
        out.append(str(part))
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return ".".join(out) or "(scenario)"


def validate(raw: dict[str, Any], source: str) -> Scenario:
    """Validate a raw dict into a Scenario, or raise ScenarioError listing each field and problem."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            msg = err.get("msg", "invalid").removeprefix("Value error, ")
            lines.append(f"{_loc(err, raw)}: {msg}")
        raise ScenarioError(f"{source}: " + "; ".join(lines)) from None


def read_raw(source: str | Path) -> tuple[dict[str, Any], str, Path | None]:
    """(raw dict, label, file path) for a built-in name or a TOML file path."""
    text_src = str(source)
    path = Path(text_src).expanduser()
    if path.suffix == ".toml" or path.exists() or "/" in text_src or "\\" in text_src:
        if not path.is_file():
            raise ScenarioError(f"scenario file {text_src!r} not found")
        label = str(path)
    else:
        path = builtin_dir() / f"{text_src}.toml"
        if not path.is_file():
            names = ", ".join(builtin_names()) or "(none installed)"
            raise ScenarioError(f"unknown scenario {text_src!r}; built-in scenarios: {names}; or give a path to a .toml file")
        label = f"scenario {text_src!r}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{label}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise ScenarioError(f"{label}: cannot read ({exc})") from None
    raw.setdefault("name", path.stem)
    return raw, label, path


def load_scenario(source: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Load a scenario by built-in name ("launch", "sn28", ...) or TOML path, with dotted-key
    overrides applied before validation (e.g. ``{"chain.tao_weight": 0.1, "horizon.days": 5}``).

    Raises ScenarioError naming the field and the problem."""
    raw, label, path = read_raw(source)
    if overrides:
        raw = apply_overrides(raw, overrides)
    init = raw.get("initial")
    if isinstance(init, dict) and init.get("kind") == "snapshot" and isinstance(init.get("path"), str) and path:
        p = Path(init["path"]).expanduser()
        if not p.is_absolute():
            init["path"] = str((path.parent / p).resolve())
    return validate(raw, label)
