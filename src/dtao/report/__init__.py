"""dtao.report: reports on a run or an experiment, as a self-contained HTML page (interactive plotly
charts, plotly.js inlined, opens without network) plus a PNG per chart (matplotlib).

    >>> from dtao.report import write_report
    >>> write_report("runs/mechanisms")          # experiment folder -> runs/mechanisms/report/report.html
    >>> write_report("runs/mechanisms/runs/p0000-r000")   # one run
"""
from dtao.report.build import ReportResult, report_experiment, report_run, write_report
from dtao.report.load import ReportError
from dtao.report.stats import QUESTIONS, summarize

__all__ = ["QUESTIONS", "ReportError", "ReportResult", "report_experiment", "report_run", "summarize",
           "write_report"]
