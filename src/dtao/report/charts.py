"""Charts for reports, each drawn twice from the same data: an interactive plotly figure (HTML) and
a static matplotlib figure (PNG, Agg backend).  Functions return ``(plotly_figure, matplotlib_figure)``
or None when the data needed is absent.
"""
from __future__ import annotations

from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import plotly.graph_objects as go  # noqa: E402
from plotly.subplots import make_subplots  # noqa: E402

from dtao.report.stats import METRIC_INFO, QUESTIONS, group_summary  # noqa: E402

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94"]
MUTED = "rgba(150,150,150,0.35)"
TEMPLATE = "plotly_white"
FIGSIZE = (9.0, 4.6)
DPI = 120

Pair = tuple[go.Figure, Any]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig: go.Figure, title: str, x: str, y: str, *, height: int = 430, log_y: bool = False) -> go.Figure:
    fig.update_layout(template=TEMPLATE, title=title, height=height, margin=dict(l=60, r=20, t=50, b=50),
                      legend=dict(font=dict(size=10)), hovermode="closest")
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y, type="log" if log_y else "linear")
    return fig


def _mpl(title: str, x: str, y: str, *, log_y: bool = False) -> tuple[Any, Any]:
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    ax.set_title(title, fontsize=11)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if log_y:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    return fig, ax


def _subnet_frame(sub: pd.DataFrame) -> pd.DataFrame:
    if sub.empty or "netuid" not in sub.columns:
        return sub
    return sub[sub["netuid"] != 0].sort_values(["netuid", "day"])


def _highlight(sub: pd.DataFrame, col: str, k: int) -> list[int]:
    """The ``k`` subnets with the largest peak ``col``."""
    peak = sub.groupby("netuid")[col].max().sort_values(ascending=False)
    return [int(n) for n in peak.index[:k]]


# ------------------------------------------------------------------ run charts
def _name(nu: int, roles: dict[int, str] | None) -> str:
    return f"SN{nu} ({roles[nu]})" if roles and nu in roles else f"SN{nu}"


def price_paths(sub: pd.DataFrame, events: pd.DataFrame | None = None, *, highlight: int = 8,
                roles: dict[int, str] | None = None) -> Pair | None:
    """Each subnet's spot price (TAO per alpha) against time; subnets with a role (``roles``:
    netuid -> label) and the ``highlight`` subnets with the highest peak in colour, the rest grey;
    dotted lines mark events."""
    sub = _subnet_frame(sub)
    if sub.empty or "price" not in sub.columns:
        return None
    present = set(int(x) for x in sub["netuid"].unique())
    top = [nu for nu in (roles or {}) if nu in present]
    top += [nu for nu in _highlight(sub, "price", highlight) if nu not in top][:max(highlight - len(top), 0)]
    title = "Alpha price paths (spot, TAO per alpha)"
    pos = sub[sub["price"] > 0]
    log_y = bool(len(pos)) and float(pos["price"].max() / max(pos["price"].min(), 1e-300)) > 50
    fig = go.Figure()
    mfig, ax = _mpl(title, "day", "price (TAO/alpha)", log_y=log_y)
    for nu, g in sub.groupby("netuid"):
        if int(nu) in top:
            continue
        fig.add_trace(go.Scattergl(x=g["day"], y=g["price"], mode="lines", line=dict(color=MUTED, width=1),
                                   name=f"SN{nu}", legendgroup="other", showlegend=False,
                                   hovertemplate=f"SN{nu}<br>day %{{x:.2f}}<br>price %{{y:.5g}}<extra></extra>"))
        ax.plot(g["day"], g["price"], color="0.7", lw=0.6, alpha=0.6)
    for i, nu in enumerate(top):
        g = sub[sub["netuid"] == nu]
        c = PALETTE[i % len(PALETTE)]
        name = _name(nu, roles)
        fig.add_trace(go.Scattergl(x=g["day"], y=g["price"], mode="lines", line=dict(color=c, width=2.5 if
                                   roles and nu in roles else 1.6), name=name,
                                   hovertemplate=f"{name}<br>day %{{x:.2f}}<br>price %{{y:.5g}}<extra></extra>"))
        ax.plot(g["day"], g["price"], color=c, lw=2.2 if roles and nu in roles else 1.3, label=name)
    for day, label in _event_marks(events):
        fig.add_vline(x=day, line=dict(color="#444", dash="dot", width=1))
        fig.add_annotation(x=day, y=1.0, yref="paper", text=label, showarrow=False, textangle=-90,
                           xanchor="left", yanchor="top", font=dict(size=9, color="#444"))
        ax.axvline(day, color="0.3", ls=":", lw=0.9)
    ax.legend(fontsize=8, ncol=2, loc="best")
    mfig.tight_layout()
    return _layout(fig, title, "day", "price (TAO/alpha)", log_y=log_y), mfig


def _event_marks(events: pd.DataFrame | None, limit: int = 12) -> list[tuple[float, str]]:
    if events is None or events.empty or "block" not in events.columns:
        return []
    ev = events.copy()
    if "kind" in ev.columns:
        # routine kinds happen every few blocks and would hide the rest
        counts = ev["kind"].value_counts()
        rare = counts[counts <= limit].index
        ev = ev[ev["kind"].isin(rare)]
    ev = ev.head(limit)
    out = []
    for _, r in ev.iterrows():
        day = float(r["day"]) if "day" in ev.columns else float(r["block"]) / 7200.0
        label = str(r.get("kind", "event"))
        if "netuid" in ev.columns and pd.notna(r.get("netuid")) and int(r["netuid"]) >= 0:
            label += f" SN{int(r['netuid'])}"
        out.append((day, label))
    return out


def emission_shares(sub: pd.DataFrame, *, top: int = 10, roles: dict[int, str] | None = None) -> Pair | None:
    """Stacked emission shares of subnets over time (subnets with a role and the ``top`` largest by
    mean share, the rest summed as 'other'); each block's shares sum to 1 over emitting subnets."""
    sub = _subnet_frame(sub)
    if sub.empty or "emission_share" not in sub.columns:
        return None
    mean_share = sub.groupby("netuid")["emission_share"].mean().sort_values(ascending=False)
    present = set(int(x) for x in mean_share.index)
    keep = [nu for nu in (roles or {}) if nu in present]
    keep += [int(n) for n in mean_share.index if int(n) not in keep][:max(top - len(keep), 0)]
    piv = sub.pivot_table(index="day", columns="netuid", values="emission_share", aggfunc="last").fillna(0.0)
    cols = [c for c in keep if c in piv.columns]
    other = piv.drop(columns=cols).sum(axis=1) if len(piv.columns) > len(cols) else None
    title = "Emission share by subnet (stacked)"
    fig = go.Figure()
    mfig, ax = _mpl(title, "day", "share of block emission")
    series = [(_name(c, roles), piv[c], PALETTE[i % len(PALETTE)]) for i, c in enumerate(cols)]
    if other is not None:
        series.append(("other", other, "#bbbbbb"))
    for name, s, c in series:
        fig.add_trace(go.Scatter(x=piv.index, y=s, mode="lines", stackgroup="one", name=name,
                                 line=dict(width=0.5, color=c),
                                 hovertemplate=f"{name}<br>day %{{x:.2f}}<br>share %{{y:.3f}}<extra></extra>"))
    ax.stackplot(piv.index, *[s.to_numpy() for _, s, _ in series], labels=[n for n, _, _ in series],
                 colors=[c for _, _, c in series], alpha=0.9)
    ax.set_ylim(0, max(1.0, float(sum(s for _, s, _ in series).max()) if series else 1.0))
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    mfig.tight_layout()
    return _layout(fig, title, "day", "share of block emission"), mfig


def root_proportion(sub: pd.DataFrame) -> Pair | None:
    """Root proportion (root's share of validator emission, tao_weight*root TAO over that plus alpha
    issuance) against time: mean over subnets with the min-max band."""
    sub = _subnet_frame(sub)
    if sub.empty or "root_proportion" not in sub.columns:
        return None
    g = sub.groupby("day")["root_proportion"]
    agg = pd.DataFrame({"mean": g.mean(), "lo": g.min(), "hi": g.max()}).reset_index()
    title = "Root proportion (mean over subnets, min-max band)"
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=agg["day"], y=agg["hi"], mode="lines", line=dict(width=0), showlegend=False,
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=agg["day"], y=agg["lo"], mode="lines", line=dict(width=0), fill="tonexty",
                             fillcolor=_rgba(PALETTE[0], 0.2), name="min-max over subnets", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=agg["day"], y=agg["mean"], mode="lines", line=dict(color=PALETTE[0], width=2),
                             name="mean", hovertemplate="day %{x:.2f}<br>root proportion %{y:.3f}<extra></extra>"))
    fig.add_hline(y=0.5, line=dict(color="#888", dash="dash", width=1))
    mfig, ax = _mpl(title, "day", "root proportion")
    ax.fill_between(agg["day"], agg["lo"], agg["hi"], color=PALETTE[0], alpha=0.2, label="min-max over subnets")
    ax.plot(agg["day"], agg["mean"], color=PALETTE[0], lw=2, label="mean")
    ax.axhline(0.5, color="0.5", ls="--", lw=1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    mfig.tight_layout()
    f = _layout(fig, title, "day", "root proportion")
    f.update_yaxes(range=[0, 1])
    return f, mfig


_POP_COLS = ("population", "agent", "group", "name", "kind")
_PNL_COLS = ("pnl_tao", "pnl", "profit_tao")


def population_pnl(agents: pd.DataFrame) -> Pair | None:
    """Each agent population's profit and loss (TAO, marked to market at spot price) against time."""
    if agents.empty or "day" not in agents.columns:
        return None
    pop = next((c for c in _POP_COLS if c in agents.columns), None)
    pnl = next((c for c in _PNL_COLS if c in agents.columns), None)
    if pop is None or pnl is None:
        return None
    title = "Population PnL (TAO, marked to market)"
    fig = go.Figure()
    mfig, ax = _mpl(title, "day", "PnL (TAO)")
    for i, (name, g) in enumerate(agents.groupby(pop, sort=True)):
        g = g.groupby("day")[pnl].sum().reset_index()
        c = PALETTE[i % len(PALETTE)]
        fig.add_trace(go.Scatter(x=g["day"], y=g[pnl], mode="lines", name=str(name), line=dict(color=c, width=2),
                                 hovertemplate=f"{name}<br>day %{{x:.2f}}<br>PnL %{{y:,.2f}} TAO<extra></extra>"))
        ax.plot(g["day"], g[pnl], color=c, lw=1.6, label=str(name))
    fig.add_hline(y=0.0, line=dict(color="#888", width=1))
    ax.axhline(0.0, color="0.5", lw=1)
    ax.legend(fontsize=8)
    mfig.tight_layout()
    return _layout(fig, title, "day", "PnL (TAO)"), mfig


# ------------------------------------------------------------------ experiment charts
def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _y_range(values: np.ndarray, log: bool = False) -> list[float] | None:
    """Axis range that fits the runs (and bands), with 6% padding; None when there is nothing."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return None
    lo, hi = float(v.min()), float(v.max())
    pad = (hi - lo) * 0.06 or abs(hi) * 0.06 or 1.0
    return [lo - pad, hi + pad]


def metric_vs_param(runs: pd.DataFrame, x: str, metric: str, *, x_label: str, color_by: str | None = None,
                    color_label: str | None = None, sampled: bool = False, log_x: bool = False) -> Pair | None:
    """A metric against one parameter: for a numeric parameter, the mean over seeds at each value with
    the 10-90% band over seeds and the 95% interval of the mean (error bars; the axis fits the runs,
    so a wide interval from few seeds runs off it rather than flattening the data); for a categorical
    one, boxes.  ``sampled``: the parameter comes from a sampled design (other parameters change
    from point to point), so point means are not joined by lines.  ``log_x``: log-scale x axis.
    ``color_by``: a categorical parameter drawn as separate series."""
    df = runs[[c for c in {x, metric, color_by} if c is not None] + ["run_id"]].copy()
    df[metric] = pd.to_numeric(df[metric], errors="coerce")
    df = df[df[metric].notna()]
    if df.empty or df[x].nunique(dropna=True) < 1:
        return None
    info = METRIC_INFO.get(metric)
    y_label = f"{metric} ({info[1]})" if info else metric
    title = f"{info[0]} against {x_label}" if info else f"{metric} against {x_label}"
    groups = [(None, df)] if color_by is None else list(df.groupby(color_by, sort=True))
    fig = go.Figure()
    mfig, ax = _mpl(title, x_label, y_label)
    numeric = _is_numeric(df[x]) and df[x].nunique() > 1
    for i, (gname, g) in enumerate(groups):
        c = PALETTE[i % len(PALETTE)]
        label = "mean" if gname is None else f"{color_label or color_by}={gname}"
        if numeric:
            s = group_summary(g, x, metric).sort_values(x)
            if not sampled:
                fig.add_trace(go.Scatter(x=s[x], y=s["q90"], mode="lines", line=dict(width=0), showlegend=False,
                                         legendgroup=label, hoverinfo="skip"))
                fig.add_trace(go.Scatter(x=s[x], y=s["q10"], mode="lines", line=dict(width=0), fill="tonexty",
                                         fillcolor=_rgba(c, 0.18), name=f"{label}: 10-90% over seeds",
                                         legendgroup=label, hoverinfo="skip"))
            fig.add_trace(go.Scatter(
                x=s[x], y=s["mean"], mode="markers" if sampled else "lines+markers", name=label, legendgroup=label,
                line=dict(color=c, width=2),
                error_y=dict(type="data", symmetric=False, array=(s["ci_high"] - s["mean"]).fillna(0),
                             arrayminus=(s["mean"] - s["ci_low"]).fillna(0), thickness=0.8, width=2,
                             color=_rgba(c, 0.6)),
                customdata=np.stack([s["n"], s["ci_low"], s["ci_high"]], axis=-1),
                hovertemplate=f"{x_label}=%{{x:.4g}}<br>mean %{{y:.4g}} (95% CI %{{customdata[1]:.4g}}.."
                              f"%{{customdata[2]:.4g}})<br>n=%{{customdata[0]}}<extra>{label}</extra>"))
            fig.add_trace(go.Scatter(x=g[x], y=g[metric], mode="markers", marker=dict(color=c, size=4, opacity=0.35),
                                     name=f"{label}: runs", legendgroup=label, showlegend=False, text=g["run_id"],
                                     hovertemplate="%{text}<br>%{y:.4g}<extra></extra>"))
            if not sampled:
                ax.fill_between(s[x], s["q10"], s["q90"], color=c, alpha=0.18)
            ax.errorbar(s[x], s["mean"], yerr=[(s["mean"] - s["ci_low"]).fillna(0), (s["ci_high"] - s["mean"]).fillna(0)],
                        color=c, lw=0 if sampled else 1.8, elinewidth=0.8, marker="o", ms=3, capsize=2, label=label)
            ax.scatter(g[x], g[metric], color=c, s=6, alpha=0.3)
        else:
            fig.add_trace(go.Box(x=g[x].astype(str), y=g[metric], name=label, marker_color=c, boxpoints="all",
                                 jitter=0.4, pointpos=0, boxmean=True, text=g["run_id"],
                                 hovertemplate="%{text}<br>%{y:.4g}<extra></extra>"))
        if not numeric:
            cats = sorted(df[x].astype(str).unique())
            pos = {cv: j for j, cv in enumerate(cats)}
            off = (i - (len(groups) - 1) / 2) * 0.8 / max(len(groups), 1)
            data = [g[g[x].astype(str) == cv][metric].to_numpy() for cv in cats]
            bp = ax.boxplot(data, positions=[pos[cv] + off for cv in cats], widths=0.6 / max(len(groups), 1),
                            patch_artist=True, showmeans=True)
            for b in bp["boxes"]:
                b.set_facecolor(_rgba_tuple(c, 0.35))
            ax.plot([], [], color=c, lw=6, alpha=0.5, label=label)
            ax.set_xticks(range(len(cats)))
            ax.set_xticklabels(cats)
    if not numeric:
        fig.update_layout(boxmode="group")
    if len(groups) > 1 or numeric:
        ax.legend(fontsize=8)
    fig = _layout(fig, title, x_label, y_label)
    if numeric:
        yr = _y_range(df[metric].to_numpy(dtype=np.float64))
        if yr is not None:
            fig.update_yaxes(range=yr)
            ax.set_ylim(*yr)
        if log_x and (pd.to_numeric(df[x], errors="coerce") > 0).all():
            fig.update_xaxes(type="log")
            ax.set_xscale("log")
    mfig.tight_layout()
    return fig, mfig


def _rgba_tuple(hex_color: str, alpha: float) -> tuple[float, float, float, float]:
    h = hex_color.lstrip("#")
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255, alpha)


def rule_comparison(runs: pd.DataFrame, rule_col: str, metrics: Sequence[str]) -> Pair | None:
    """Side by side, one panel per question: the distribution over runs of each metric under each
    emission rule (box with every run as a point, the mean as a dashed line)."""
    metrics = [m for m in metrics if m in runs.columns and pd.to_numeric(runs[m], errors="coerce").notna().any()]
    if not metrics or runs[rule_col].nunique() < 1:
        return None
    rules = sorted(runs[rule_col].dropna().astype(str).unique())
    n = len(metrics)
    ncols = 2 if n > 1 else 1
    nrows = (n + ncols - 1) // ncols
    titles = [QUESTIONS.get(m, (m, ""))[0] for m in metrics]
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles, vertical_spacing=0.16, horizontal_spacing=0.1)
    mfig, axes = plt.subplots(nrows, ncols, figsize=(10.0, 3.6 * nrows), dpi=DPI, squeeze=False)
    for k, m in enumerate(metrics):
        r, c = divmod(k, ncols)
        ax = axes[r][c]
        data = []
        for j, rule in enumerate(rules):
            vals = pd.to_numeric(runs.loc[runs[rule_col].astype(str) == rule, m], errors="coerce").dropna()
            ids = runs.loc[vals.index, "run_id"]
            fig.add_trace(go.Box(y=vals, name=rule, marker_color=PALETTE[j % len(PALETTE)], boxpoints="all",
                                 jitter=0.4, pointpos=0, boxmean=True, showlegend=(k == 0), legendgroup=rule,
                                 text=ids, hovertemplate=f"{rule}<br>%{{text}}<br>%{{y:.4g}}<extra></extra>"),
                          row=r + 1, col=c + 1)
            data.append(vals.to_numpy())
        unit = QUESTIONS.get(m, (m, m))[1]
        fig.update_yaxes(title_text=unit, row=r + 1, col=c + 1)
        bp = ax.boxplot(data, patch_artist=True, showmeans=True)
        for j, b in enumerate(bp["boxes"]):
            b.set_facecolor(_rgba_tuple(PALETTE[j % len(PALETTE)], 0.4))
        for j, vals in enumerate(data):
            ax.scatter(np.full(len(vals), j + 1) + np.linspace(-0.12, 0.12, len(vals)) if len(vals) else [], vals,
                       s=7, color=PALETTE[j % len(PALETTE)], alpha=0.6, zorder=3)
        ax.set_xticks(range(1, len(rules) + 1))
        ax.set_xticklabels(rules)
        ax.set_title(titles[k], fontsize=9)
        ax.set_ylabel(unit, fontsize=8)
        ax.grid(True, alpha=0.3)
    for k in range(n, nrows * ncols):
        r, c = divmod(k, ncols)
        axes[r][c].axis("off")
    mfig.suptitle("Emission rules compared", fontsize=11)
    mfig.tight_layout()
    fig.update_layout(template=TEMPLATE, height=max(420, 360 * nrows), title="Emission rules compared",
                      margin=dict(l=60, r=20, t=80, b=40))
    return fig, mfig


def status_bar(runs: pd.DataFrame) -> Pair | None:
    """Runs by status (done, failed, pending)."""
    if runs.empty:
        return None
    counts = runs["status"].value_counts().reindex(["done", "failed", "pending"]).fillna(0).astype(int)
    colors = {"done": "#2ca02c", "failed": "#d62728", "pending": "#bbbbbb"}
    fig = go.Figure(go.Bar(x=counts.index, y=counts.to_numpy(), marker_color=[colors[s] for s in counts.index],
                           text=counts.to_numpy(), textposition="auto"))
    mfig, ax = _mpl("Runs by status", "status", "runs")
    ax.bar(counts.index, counts.to_numpy(), color=[colors[s] for s in counts.index])
    mfig.tight_layout()
    return _layout(fig, "Runs by status", "status", "runs", height=300), mfig
