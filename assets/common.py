"""What every asset domain shares: the DuckDB writer pool and metadata tables for the UI."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import polars as pl

WRITER_POOL = "duckdb_writer"
"""One writer at a time on the DuckDB file: every asset that writes it runs in this pool."""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value).replace("|", "/")


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence], *, total: int | None = None
) -> dg.MetadataValue:
    """A Markdown table for asset metadata; ``total`` > len(rows) notes the rows left out."""
    if not rows:
        return dg.MetadataValue.md("_none_")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    if total is not None and total > len(rows):
        lines.append(f"\n… {total - len(rows)} more rows")
    return dg.MetadataValue.md("\n".join(lines))


def frame_table(frame: pl.DataFrame, limit: int = 30) -> dg.MetadataValue:
    """The first ``limit`` rows of a polars frame as a Markdown table."""
    return markdown_table(frame.columns, frame.head(limit).rows(), total=frame.height)
