"""The daily report for managers: one UTC day of the platform as a self-contained HTML document
(inline CSS and SVG charts, readable offline, laid out for print) and its PDF.

Sections (each says what the day lacks instead of failing): fleet health and what changed since
the day before (:mod:`.fleet`); the top risks with their RUL intervals; alarms opened,
acknowledged and cleared, decisions and commands (:mod:`.twin`); data quality — readings loaded,
rows rejected by reason, late and refused files, silent gateways (:mod:`.quality`); the day's
anchor and the track record (:mod:`.anchor`).

:func:`build_report` reads (warehouse + twin store) and :func:`render_html` /
:func:`~dt_platform.report.pdf.html_to_pdf` render; :func:`produce_report` writes
``DT_HOME/reports/<day>/``, publishes to IPFS and attaches both files to the snapshot of the day
whose anchor covers them (:mod:`.publish`); :func:`mail_report` sends them (:mod:`.mail`) to
the recipients who lack this version, a changed one as a correction (:mod:`.sends`).
The ``daily_report`` asset (``assets/report.py``) runs this every morning; ``dt-platform
report`` on demand.
"""

from dt_platform.report.build import build_report
from dt_platform.report.content import DailyReport, Section, Table
from dt_platform.report.html import render_html
from dt_platform.report.mail import MailError, MailSettings, mail_settings
from dt_platform.report.pdf import PdfUnavailable, html_to_pdf
from dt_platform.report.publish import (
    ReportFile,
    ReportRun,
    list_reports,
    mail_report,
    next_unbuilt_day,
    produce_report,
    report_file,
)

__all__ = [
    "DailyReport",
    "MailError",
    "MailSettings",
    "PdfUnavailable",
    "ReportFile",
    "ReportRun",
    "Section",
    "Table",
    "build_report",
    "html_to_pdf",
    "list_reports",
    "mail_report",
    "mail_settings",
    "next_unbuilt_day",
    "produce_report",
    "render_html",
    "report_file",
]
