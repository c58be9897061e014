"""Assembling run and experiment reports: HTML (interactive, self-contained) plus one PNG per chart."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from dtao.report import charts
from dtao.report.html import Section, fmt, note, page, table
from dtao.report.load import (ExperimentData, ReportError, RunData, is_experiment_dir, is_run_dir,
                              load_experiment_dir, load_run)
from dtao.report.stats import METRIC_INFO, QUESTIONS, group_summary, numeric_metric_columns, paired_difference

RULE_KEY = "chain.emission_rule"
RULE_ORDER = ("ema_price", "flow", "root_vote")


@dataclass
class ReportResult:
    """Files a report wrote."""

    html: Path
    pngs: list[Path] = field(default_factory=list)
    kind: str = "run"


class _Writer:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.pngs: list[Path] = []
        out.mkdir(parents=True, exist_ok=True)

    def add(self, section: Section, pair: Any, png_name: str) -> bool:
        if pair is None:
            return False
        fig, mfig = pair
        section.chart(fig)
        path = self.out / png_name
        mfig.savefig(path)
        plt.close(mfig)
        self.pngs.append(path)
        return True


def _footer(source: Path) -> str:
    from dtao import __version__

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"Made by dtao {__version__} on {now} from {source}. Amounts in TAO (alpha where stated)."


# ------------------------------------------------------------------ run report
#: summary keys shown first in a run's headline table, in this order
HEADLINE_KEYS: tuple[str, ...] = (
    "scenario", "days", "blocks", "seed", "n_subnets", "final_total_issuance", "sum_prices_final",
    "root_proportion_mean_final", "root_stakers_apy", "h2e_netuid", "h2e_emission_share_mean",
    "h2e_emission_share_max", "attacker_profit_tao", "quality_emission_corr", "intervention_netuid",
    "intervention_day", "foundation_stake_share", "price_peak_ratio", "price_peak_rank",
    "price_drop_after_intervention", "price_change_after_intervention", "emission_share_change_after_intervention",
    "orders_total", "rejected_total", "conservation_ok")
#: keys whose integers are identifiers, printed without thousands separators
_ID_KEYS = ("seed", "netuid", "block", "rank")


def _value(k: str, v: Any) -> str:
    if isinstance(v, int) and not isinstance(v, bool) and any(t in k for t in _ID_KEYS):
        return str(v)
    return fmt(v) if not isinstance(v, str) else v


def roles(summary: dict[str, Any]) -> dict[int, str]:
    """Subnets with a part in the scenario, from the summary: netuid -> role."""
    out: dict[int, str] = {}
    if summary.get("h2e_netuid") is not None:
        out[int(summary["h2e_netuid"])] = "hold-to-earn"
    if summary.get("intervention_netuid") is not None:
        out.setdefault(int(summary["intervention_netuid"]), "intervention target")
    return out


def report_run(path: str | Path, out: str | Path | None = None) -> ReportResult:
    """Report on one run folder: price paths, emission shares, root proportion, population PnL and
    the headline table.  Writes ``report.html`` and PNGs into ``out`` (default ``<run>/report``)."""
    run = load_run(path)
    w = _Writer(Path(out) if out is not None else run.path / "report")
    hl = roles(run.summary)
    sections = [_headline(run)]
    s = Section("prices", "Alpha prices", ["Spot price of each subnet's alpha in TAO (pool TAO / pool alpha): "
                                           "subnets with a role in the scenario and those with the highest peaks "
                                           "in colour, the rest grey; events dotted."])
    if not w.add(s, charts.price_paths(run.subnets, run.events, roles=hl), "price_paths.png"):
        s.notes.append("No price data in this run.")
    sections.append(s)
    s = Section("emission", "Emission shares", ["Share of each block's TAO emission going to each subnet, as set "
                                                "by the run's emission rule (largest subnets and those with a role "
                                                "shown, the rest summed as 'other')."])
    if not w.add(s, charts.emission_shares(run.subnets, roles=hl), "emission_shares.png"):
        s.notes.append("No emission data in this run.")
    sections.append(s)
    s = Section("root", "Root proportion", ["Root's share of each subnet's validator emission: tao_weight x root "
                                            "TAO / (tao_weight x root TAO + alpha issuance)."])
    if not w.add(s, charts.root_proportion(run.subnets), "root_proportion.png"):
        s.notes.append("No root proportion data in this run.")
    sections.append(s)
    s = Section("populations", "Populations", ["Profit and loss of each agent population in TAO, holdings marked "
                                               "to market at spot price (liquid: what selling everything through "
                                               "the pools would fetch)."])
    if not w.add(s, charts.population_pnl(run.agents), "population_pnl.png"):
        s.notes.append("No population data in this run.")
    pops = _population_table(run)
    if pops is not None:
        s.html(pops)
    sections.append(s)
    if not run.events.empty:
        ev = run.events.head(200)
        cols = [c for c in ("block", "day", "kind", "netuid", "detail") if c in ev.columns]
        sections.append(Section("events", "Events", [f"{len(run.events)} events"
                                                     + (" (first 200 shown)" if len(run.events) > 200 else "")])
                        .html(table([[_cell(c, r[c]) for c in cols] for _, r in ev.iterrows()], cols)))
    sub = _run_subtitle(run)
    html_path = w.out / "report.html"
    html_path.write_text(page(run.title, sub, sections, _footer(run.path)))
    return ReportResult(html_path, w.pngs, "run")


def _cell(col: str, v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if col in ("block", "netuid"):
        return str(int(v))
    return _value(col, v.item() if hasattr(v, "item") else v)


def _run_subtitle(run: RunData) -> str:
    bits = []
    for k in ("seed", "days", "blocks"):
        v = run.summary.get(k, run.metadata.get(k))
        if v is not None:
            bits.append(f"{k} {_value(k, v)}")
    if run.record:
        bits.insert(0, f"run {run.record.get('run_id')}")
        if run.record.get("params"):
            bits.append(", ".join(f"{k}={v}" for k, v in run.record["params"].items()))
    return " | ".join(bits)


def _headline(run: RunData) -> Section:
    s = Section("headline", "Headline", list(run.notes))
    summ = run.summary
    if run.record and run.record.get("status") == "failed":
        s.notes.append(f"This run failed: {run.record.get('error')}")
    if not summ:
        s.notes.append("This run has no summary.json.")
        return s
    rows = []
    for k in HEADLINE_KEYS:
        if k in summ and summ[k] is not None:
            meaning, unit = METRIC_INFO.get(k, ("", ""))
            rows.append([k, _value(k, summ[k]), unit, meaning])
    s.html(table(rows, ["metric", "value", "unit", "meaning"]))
    rest = [[k, _value(k, v) if not isinstance(v, (dict, list)) else json.dumps(v)]
            for k, v in summ.items() if k not in HEADLINE_KEYS and k != "populations"]
    if rest:
        s.html("<details><summary>All summary values (summary.json)</summary>" + table(rest, ["key", "value"])
               + "</details>")
    return s


_POP_FIELDS = ("kind", "agents", "initial_value_tao", "value_tao", "pnl_tao", "pnl_liquid_tao", "costs_tao",
               "orders", "rejected")


def _population_table(run: RunData) -> str | None:
    pops = run.summary.get("populations")
    if isinstance(pops, dict) and pops:
        rows = [[name] + [_value(f, p.get(f)) if p.get(f) is not None else "n/a" for f in _POP_FIELDS]
                for name, p in pops.items()]
        return table(rows, ["population", *_POP_FIELDS])
    agents = run.agents
    if agents.empty or "day" not in agents.columns:
        return None
    pop = next((c for c in charts._POP_COLS if c in agents.columns), None)
    if pop is None:
        return None
    last = agents[agents["day"] == agents["day"].max()]
    num = [c for c in last.columns if c not in (pop, "day", "block") and pd.api.types.is_numeric_dtype(last[c])]
    if not num:
        return None
    g = last.groupby(pop, sort=True)[num].sum()
    return table([[str(i)] + [fmt(float(v)) for v in r] for i, r in g.iterrows()],
                 [f"{pop} (day {fmt(float(agents['day'].max()))})"] + num)


# ------------------------------------------------------------------ experiment report
def _choose_metrics(exp: ExperimentData, exclude: set[str]) -> list[str]:
    done = exp.done
    available = numeric_metric_columns(done, exclude)
    wanted = list(exp.doc["experiment"].get("report", {}).get("metrics") or [])
    if wanted:
        return [m for m in wanted if m in available]
    q = [m for m in QUESTIONS if m in available]
    if q:
        return q
    return available[:6]


def _rule_sorted(values: list[Any]) -> list[Any]:
    return sorted(values, key=lambda v: (RULE_ORDER.index(v) if v in RULE_ORDER else len(RULE_ORDER), str(v)))


def report_experiment(path: str | Path, out: str | Path | None = None) -> ReportResult:
    """Report on an experiment folder: status, the emission-rule comparison (when the rule varies),
    each metric against each varied parameter with bands over seeds, per-point means and failures.
    Writes ``report.html`` and PNGs into ``out`` (default ``<experiment>/report``)."""
    exp = load_experiment_dir(path)
    w = _Writer(Path(out) if out is not None else exp.path / "report")
    e = exp.doc["experiment"]
    runs = exp.runs
    done = exp.done
    pcols = exp.param_columns
    metrics = _choose_metrics(exp, set(pcols.values()))
    sections: list[Section] = []

    ov = Section("overview", "Overview")
    counts = runs["status"].value_counts()
    n_points = int(runs["point_id"].nunique())
    ov.html(table([
        ["experiment", e["name"]], ["description", e.get("description") or ""],
        ["base scenario", e["scenario"]], ["experiment seed", str(exp.doc["plan"]["seed"])],
        ["seeding", e.get("seeding", "independent")],
        ["horizon", f"{fmt(e['days'])} days" if e.get("days") else
         (f"{fmt(e['blocks'])} blocks" if e.get("blocks") else "scenario's own")],
        ["fixed overrides", ", ".join(f"{k}={v}" for k, v in (e.get("overrides") or {}).items()) or "none"],
        ["varied", ", ".join(pcols) or "nothing (replications only)"],
        ["runs", f"{len(runs)} = {n_points} points x {e['replications']} replications"],
        ["done / failed / pending", f"{int(counts.get('done', 0))} / {int(counts.get('failed', 0))} / "
                                    f"{int(counts.get('pending', 0))}"],
        ["run time", f"{fmt(float(runs['wall_s'].sum()))} s in all, {fmt(float(runs['wall_s'].mean()))} s a run"
         if runs["wall_s"].notna().any() else "n/a"],
    ], None))
    w.add(ov, charts.status_bar(runs), "status.png")
    sections.append(ov)
    if done.empty:
        ov.notes.append("No run has finished yet: nothing to compare.")

    rule_col = pcols.get(RULE_KEY)
    if rule_col is not None and not done.empty and done[rule_col].nunique() >= 1:
        sections.append(_rule_section(exp, w, rule_col, done, metrics))

    others = [k for k in pcols if k != RULE_KEY and done[pcols[k]].nunique() > 1] if not done.empty else []
    if others and metrics:
        s = Section("sweep", "Metrics against parameters",
                    ["Mean over seeds at each parameter value (line, with 95% confidence interval of the mean), "
                     "10-90% band over seeds (shaded), every run as a dot."
                     + (" Series are the emission rules." if rule_col is not None else "")])
        sample = e.get("sample") or {}
        sampled = {p["key"]: p for p in sample.get("parameters", [])}
        if sampled:
            s.notes.append("Parameters from the sampled design change together from point to point: each point's "
                           "mean is a marker (with its 95% interval), not joined by lines.")
        for k in others:
            for m in metrics:
                w.add(s, charts.metric_vs_param(done, pcols[k], m, x_label=k, color_by=rule_col, color_label="rule",
                                                sampled=k in sampled, log_x=sampled.get(k, {}).get("scale") == "log"),
                      f"{m}_vs_{pcols[k]}.png")
        sections.append(s)
    elif rule_col is None and metrics and not done.empty:
        s = Section("replications", "Spread over replications",
                    ["No parameter varies: each metric's distribution over the replications."])
        d2 = done.assign(_all="all runs")
        for m in metrics:
            w.add(s, charts.metric_vs_param(d2, "_all", m, x_label="replications"), f"{m}_spread.png")
        sections.append(s)

    if not done.empty and metrics:
        sections.append(_points_section(exp, metrics))
    failed = runs[runs["status"] == "failed"]
    if len(failed):
        s = Section("failures", "Failed runs", [f"{len(failed)} runs failed; each is recorded with its traceback "
                                                "(dtao query DIR \"SELECT run_id, traceback FROM runs WHERE "
                                                "status = 'failed'\")."])
        s.html(table([[r.run_id, str(r.seed), r.params, (r.error or "")[:300]] for r in failed.itertuples()],
                     ["run", "seed", "parameters", "error"]))
        sections.append(s)
    sub = f"{len(runs)} runs of {e['scenario']} | seed {exp.doc['plan']['seed']}"
    html_path = w.out / "report.html"
    html_path.write_text(page(f"dtao experiment report: {e['name']}", sub, sections, _footer(exp.path)))
    return ReportResult(html_path, w.pngs, "experiment")


def _rule_section(exp: ExperimentData, w: _Writer, rule_col: str, done: pd.DataFrame,
                  metrics: list[str]) -> Section:
    e = exp.doc["experiment"]
    qs = [m for m in QUESTIONS if m in done.columns] or metrics
    others = [k for k, c in exp.param_columns.items() if c != rule_col and done[c].nunique() > 1]
    notes = ["Each emission rule's runs side by side on the questions the mechanism is judged by: box = "
             "quartiles, dashed = mean, dots = runs."]
    if others:
        notes.append("Pooled over the other varied parameters (" + ", ".join(others) + "); see 'Metrics against "
                     "parameters' for each separately.")
    s = Section("rules", "Emission rules compared", notes)
    w.add(s, charts.rule_comparison(done, rule_col, qs), "rule_comparison.png")
    rules = _rule_sorted(list(done[rule_col].dropna().unique()))
    rows = []
    for m in qs:
        g = group_summary(done, rule_col, m).set_index(rule_col)
        for r in rules:
            if r not in g.index:
                continue
            x = g.loc[r]
            rows.append([QUESTIONS.get(m, (m, ""))[0], r, int(x["n"]), fmt(float(x["mean"])),
                         f"{fmt(float(x['ci_low']))} .. {fmt(float(x['ci_high']))}",
                         f"{fmt(float(x['q10']))} .. {fmt(float(x['q90']))}", QUESTIONS.get(m, ("", m))[1]])
    s.html(table(rows, ["question", "rule", "runs", "mean", "95% CI of mean", "10-90% over seeds", "unit"]))
    common = e.get("seeding") == "common"
    base = "ema_price" if "ema_price" in rules else (rules[0] if rules else None)
    if common and base is not None and len(rules) > 1:
        rows = []
        pair_cols = ["seed"] + [exp.param_columns[k] for k in others]
        for m in qs:
            d = paired_difference(done, rule_col, m, base, pair_cols)
            for _, x in d.iterrows():
                rows.append([QUESTIONS.get(m, (m, ""))[0], f"{x[rule_col]} - {base}", int(x["n_pairs"]),
                             fmt(float(x["mean_diff"])), f"{fmt(float(x['ci_low']))} .. {fmt(float(x['ci_high']))}"])
        s.html(note("Seeds are common across rules, so each run is compared with the run of the same seed"
                    + (" and the same other parameters" if others else "") + f" under {base} (paired differences):"))
        s.html(table(rows, ["question", "difference", "pairs", "mean difference", "95% CI"]))
    missing = [m for m in QUESTIONS if m not in done.columns or pd.to_numeric(done[m], errors="coerce").isna().all()]
    if missing:
        s.notes.append("Not measured in these runs (null in every summary): " + ", ".join(missing) + ".")
    return s


def _points_section(exp: ExperimentData, metrics: list[str]) -> Section:
    done = exp.done
    pcols = list(exp.param_columns.values())
    s = Section("points", "Per point", ["Mean over the finished replications of each parameter point."])
    g = done.groupby("point_id", sort=True)
    rows = []
    for pid, sub in g:
        first = sub.iloc[0]
        rows.append([str(pid)] + [str(first[c]) for c in pcols] + [str(len(sub))]
                    + [fmt(float(pd.to_numeric(sub[m], errors="coerce").mean())) for m in metrics])
    s.html(table(rows[:500], ["point"] + list(exp.param_columns) + ["runs"] + metrics))
    if len(rows) > 500:
        s.notes.append(f"{len(rows)} points; first 500 shown (dtao query for all).")
    return s


def write_report(path: str | Path, out: str | Path | None = None) -> ReportResult:
    """Report on a run folder or an experiment folder, whichever ``path`` is."""
    p = Path(path)
    if is_experiment_dir(p):
        return report_experiment(p, out)
    if is_run_dir(p):
        return report_run(p, out)
    raise ReportError(f"{p} is neither a run folder (summary.json, subnets.parquet) nor an experiment folder "
                      "(experiment.json)")


__all__ = ["ReportResult", "report_experiment", "report_run", "write_report"]
