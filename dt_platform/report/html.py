"""The report as one self-contained HTML document: inline CSS and SVG, no script, no link to
fetch (a Content-Security-Policy forbids any), readable offline, and laid out for print."""

from __future__ import annotations

from html import escape

from dt_platform.report.content import DailyReport, Section, Table, moment

CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: Helvetica, Arial, sans-serif; font-size: 10.5pt; color: #1f2937;
       margin: 0 auto; max-width: 60rem; padding: 1rem; line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 .2rem; }
h2 { font-size: 13pt; border-bottom: 2px solid #1d4ed8; padding-bottom: 2px; margin: 1.4rem 0 .5rem; }
.sub { color: #4b5563; margin: 0 0 .8rem; }
.missing { background: #fef3c7; border-left: 4px solid #d97706; padding: .3rem .6rem; margin: .4rem 0; }
table { border-collapse: collapse; width: 100%; margin: .4rem 0 .8rem; font-size: 9pt; }
caption { text-align: left; font-weight: bold; padding: .2rem 0; }
th, td { border: 1px solid #d1d5db; padding: 2px 5px; text-align: left; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #eff6ff; }
td.n { text-align: right; white-space: nowrap; }
td.mono { word-break: break-all; }
code, td.mono { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 8.5pt; }
svg { max-width: 100%; height: auto; display: block; margin: .4rem 0; }
footer { margin-top: 1.5rem; color: #6b7280; font-size: 8.5pt; }
@media print {
  body { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  table, svg, .missing { break-inside: avoid; }
  tr { break-inside: avoid; }
}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _inline(text: str) -> str:
    """Escaped text where `backticks` mark code (commands a reader can copy)."""
    parts = escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            long_token = len(cell) > 40 and " " not in cell  # hashes, CIDs
            cls = "n" if i in table.numeric else ("mono" if long_token else "")
            cells.append(
                f'<td class="{cls}">{escape(cell)}</td>' if cls else f"<td>{escape(cell)}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table><caption>{escape(table.caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _section(section: Section) -> str:
    out = [f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>']
    out += [f'<p class="missing">Missing: {_inline(m)}</p>' for m in section.missing]
    out += [f"<p>{_inline(line)}</p>" for line in section.lines]
    out += section.charts  # built and escaped by dt_platform.report.svg
    out += [_table(t) for t in section.tables]
    out.append("</section>")
    return "\n".join(out)


def render_html(report: DailyReport) -> str:
    title = f"Daily report {report.day}"
    sections = "\n".join(_section(s) for s in report.sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · dt-platform</title>
<style>{CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">The UTC day {report.day}, from the warehouse and the twin store as they stood at
{escape(moment(report.generated_at))}. Every figure can be recomputed there; the anchor of
{report.covering_day} covers this document.</p>
{sections}
<footer>dt-platform · generated {escape(moment(report.generated_at))}</footer>
</body>
</html>
"""
