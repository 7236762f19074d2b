"""How machine health reads on the fleet and machine pages: tables without empty "None" cells,
a link from each row to its machine, RUL axes with readable ticks, and where the damage law was
refitted within a component's life. Plain functions (no Streamlit), so they are unit-tested; the
pages only lay them out."""

from __future__ import annotations

import math
from urllib.parse import quote

import polars as pl

__all__ = [
    "EMPTY",
    "fill_text",
    "fleet_table",
    "law_changes",
    "machine_link",
    "notes_by_text",
    "rul_ticks",
]

EMPTY = "–"
"""What a cell without a value shows (instead of ``None``)."""

MACHINE_PAGE = "machine"
"""The machine page's URL path (``app/dashboard.py`` names pages by their key)."""

TEXT_COLUMNS = ("machine_type", "line", "basis", "severity", "reason", "note")


def fill_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every empty text cell shown as ``–`` (a table would print ``None``)."""
    return frame.with_columns(pl.col(pl.String).fill_null(EMPTY))


def machine_link(machine_id: str) -> str:
    """The relative URL of a machine's page: ``machine?machine=<id>``."""
    return f"{MACHINE_PAGE}?machine={quote(machine_id, safe='')}"


def _hours(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .round(0)
        .cast(pl.Int64)
        .map_elements(lambda h: f"{h:,}", return_dtype=pl.String)
    )


def fleet_table(status: pl.DataFrame) -> pl.DataFrame:
    """The fleet page's table from :func:`app.data.fleet_status`: a link to each machine's page,
    the 90 % interval as text, and every empty text cell shown as ``–``."""
    interval = (
        pl.when(pl.col("rul_fused_lo_h").is_not_null() & pl.col("rul_fused_hi_h").is_not_null())
        .then(pl.format("{} – {} h", _hours("rul_fused_lo_h"), _hours("rul_fused_hi_h")))
        .otherwise(pl.lit(EMPTY))
    )
    return status.with_columns(
        pl.col("machine_id").map_elements(machine_link, return_dtype=pl.String).alias("link"),
        interval.alias("interval_90"),
        *[pl.col(c).cast(pl.String).fill_null(EMPTY) for c in TEXT_COLUMNS],
    ).select(
        "link",
        "machine_type",
        "line",
        "rul_fused_h",
        "interval_90",
        "rul_physics_h",
        "rul_ml_h",
        "basis",
        "probability",
        "severity",
        "reason",
        "note",
    )


def notes_by_text(status: pl.DataFrame) -> list[tuple[str, list[str]]]:
    """Each distinct note of the estimates with the machines it applies to, in full (the table
    cell cuts long notes short)."""
    with_note = status.filter(pl.col("note").is_not_null() & (pl.col("note") != ""))
    grouped = (
        with_note.group_by("note", maintain_order=True)
        .agg(pl.col("machine_id").sort())
        .sort(pl.col("machine_id").list.first())
    )
    return [(row["note"], row["machine_id"]) for row in grouped.iter_rows(named=True)]


def rul_ticks(highest_h: float | None) -> list[int]:
    """Tick values for a log-like RUL axis: 0, then 1-3-10 steps up to the first at or above
    ``highest_h`` (e.g. 0, 1, 3, 10, 30, 100, 300, 1,000, 3,000 for 2,500 h)."""
    ticks = [0]
    if highest_h is None or not math.isfinite(highest_h) or highest_h <= 0:
        return [*ticks, 1, 10, 100]
    decade = 1
    while True:
        for step in (1, 3):
            ticks.append(step * decade)
            if step * decade >= highest_h:
                return ticks
        decade *= 10


def law_changes(damage: pl.DataFrame) -> pl.DataFrame:
    """Where the physics law changed within a component's life (a refit), from the trajectory of
    :func:`app.data.damage_history`: the first hour computed by the new law, with the version
    before and after. Each day's damage is drawn as that day's law computed it, so the curve may
    step (even down) at these points."""
    if damage.is_empty():
        return pl.DataFrame(
            schema={
                "ts": damage.schema.get("ts", pl.Datetime("us", "UTC")),
                "component_installed_at": damage.schema.get(
                    "component_installed_at", pl.Datetime("us", "UTC")
                ),
                "before": pl.String(),
                "after": pl.String(),
            }
        )
    ordered = damage.sort("ts").with_columns(
        pl.col("physics_version").shift(1).over("component_installed_at").alias("before")
    )
    return ordered.filter(
        pl.col("before").is_not_null() & (pl.col("before") != pl.col("physics_version"))
    ).select("ts", "component_installed_at", "before", pl.col("physics_version").alias("after"))
