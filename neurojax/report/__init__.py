"""Quality-control report of a preprocessing run: one self-contained HTML page with PNG figures."""

from .html import write_report as write_report

__all__ = ["write_report"]
