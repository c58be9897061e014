"""A self-contained HTML page: plotly.js inlined once in the head, each chart a div, tables as HTML.
Opening the file needs no network."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import plotly.graph_objects as go

_CSS = """
body{font-family:-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
     color:#222;background:#fafafa}
header{background:#1f2a44;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:6px 0 0;opacity:.85;font-size:13px}
nav{background:#fff;border-bottom:1px solid #ddd;padding:8px 28px;font-size:13px;position:sticky;top:0;z-index:5}
nav a{margin-right:16px;color:#1f4e9c;text-decoration:none}
main{padding:10px 28px 40px;max-width:1250px}
section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:14px 18px;margin:16px 0}
section h2{font-size:17px;margin:2px 0 8px}
p.note{font-size:13px;color:#555;margin:4px 0 10px}
table.data{border-collapse:collapse;font-size:12.5px;margin:6px 0}
table.data th,table.data td{border:1px solid #ddd;padding:4px 8px;text-align:right}
table.data th{background:#f0f2f6;text-align:left} table.data td.t{text-align:left}
.chart{width:100%;min-height:300px}
footer{font-size:12px;color:#777;padding:0 28px 30px}
pre{font-size:11px;background:#f6f6f6;padding:6px;overflow:auto;max-height:220px}
details{margin:8px 0;font-size:13px} summary{cursor:pointer;color:#1f4e9c}
table.data td.t{max-width:560px;word-break:break-word}
"""


@dataclass
class Section:
    """One section of the page: a title, notes, then charts and tables in order."""

    id: str
    title: str
    notes: list[str] = field(default_factory=list)
    items: list[tuple[str, Any]] = field(default_factory=list)  # ("chart", go.Figure) | ("html", str)

    def chart(self, fig: go.Figure) -> "Section":
        self.items.append(("chart", fig))
        return self

    def html(self, fragment: str) -> "Section":
        self.items.append(("html", fragment))
        return self


def esc(x: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(x), quote=True)


_NUM = re.compile(r"^\s*[-+]?[\d.,]+(?:e[-+]?\d+)?(?:\s*\.\.\s*[-+]?[\d.,]+(?:e[-+]?\d+)?)?\s*$|^n/a$")


def _td(c: Any) -> str:
    text = str(c)
    return f"<td>{esc(text)}</td>" if _NUM.match(text) else f'<td class="t">{esc(text)}</td>'


def table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None) -> str:
    """An HTML table of already formatted cells (numbers right-aligned, text left-aligned)."""
    head = ""
    if header is not None:
        head = "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr></thead>"
    trs = "".join("<tr>" + "".join(_td(c) for c in r) + "</tr>" for r in rows)
    return f'<table class="data">{head}<tbody>{trs}</tbody></table>'


def note(text: str) -> str:
    """A paragraph of explanatory text (escaped)."""
    return f'<p class="note">{esc(text)}</p>'


def fmt(v: Any, digits: int = 4) -> str:
    """A number or value formatted for a table."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != v:
            return "n/a"
        if v == 0:
            return "0"
        if abs(v) >= 1e5 or abs(v) < 1e-3:
            return f"{v:.{digits}g}"
        return f"{v:,.{digits}g}" if abs(v) < 1 else f"{v:,.{max(digits - len(str(int(abs(v)))), 1)}f}"
    return str(v)


def page(title: str, subtitle: str, sections: Sequence[Section], footer: str) -> str:
    """The whole document."""
    from plotly.offline import get_plotlyjs

    nav = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = []
    n_chart = 0
    for s in sections:
        parts = [f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>']
        parts += [f'<p class="note">{esc(n)}</p>' for n in s.notes]
        for kind, obj in s.items:
            if kind == "chart":
                n_chart += 1
                parts.append(obj.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{n_chart}",
                                         default_width="100%", config={"displaylogo": False, "responsive": True}))
            else:
                parts.append(obj)
        parts.append("</section>")
        body.append("".join(parts))
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<style>{_CSS}</style><script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
            f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header><nav>{nav}</nav>"
            f"<main>{''.join(body)}</main><footer>{footer}</footer></body></html>")
