"""Self-contained HTML report of one session (``hreflex report``): figures in
``figures``, HTML pieces in ``html``, page sections in ``sections``, orchestration in
``build``. See ``docs/REPORT.md``."""

from hreflex.report.build import render_report, write_report

__all__ = ["render_report", "write_report"]
