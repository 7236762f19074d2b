"""The report's PDF: the same HTML printed by Debian's Chromium in headless mode.

Why Chromium: the PDF is then exactly the HTML (the same CSS ``@media print`` rules, the same
inline SVG charts), with no second layout to keep in step; it is a Debian package that
``make setup`` installs (the dashboard's browser tests use it too) and needs no download at run
time. The pure-Python renderers draw SVG and modern CSS poorly, and WeasyPrint needs Pango.

Chromium reads the report from a private temporary folder with its own throw-away profile; the
document's Content-Security-Policy forbids every fetch and there is no script. Chromium will
not start as root with its sandbox, so as root (containers, CI) it runs without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120.0
MAX_PDF_BYTES = 50 * 1024 * 1024


class PdfUnavailable(RuntimeError):
    """No PDF could be printed (no browser, or the browser failed), and why."""


def find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: str, *, browser: str | None = None, timeout_s: float = TIMEOUT_S) -> bytes:
    """Print ``html`` to PDF (A4, the document's own margins, no browser header or footer)."""
    browser = browser or find_browser()
    if browser is None:
        raise PdfUnavailable(
            "no Chromium found on PATH to print the PDF: install Debian's `chromium` "
            "(`make setup` does)"
        )
    with tempfile.TemporaryDirectory(prefix="dt-report-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        if os.geteuid() == 0:
            command.insert(1, "--no-sandbox")
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise PdfUnavailable(
                f"{browser} did not print the PDF within {timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise PdfUnavailable(f"cannot start {browser}: {exc}") from None
        if not out.exists() or out.stat().st_size == 0:
            tail = done.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise PdfUnavailable(
                f"{browser} printed no PDF (exit {done.returncode}): {' / '.join(tail)}"
            )
        if out.stat().st_size > MAX_PDF_BYTES:
            raise PdfUnavailable(f"the PDF is larger than {MAX_PDF_BYTES // 2**20} MiB")
        return out.read_bytes()
