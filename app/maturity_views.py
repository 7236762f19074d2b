"""How the twins' maturity reads on a page: the level each twin earned beside the level the
``TwinRegistry`` holds, and a level's evidence in words. Plain functions (no Streamlit), so they
are unit-tested; the pages only lay them out."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

import polars as pl

from dt_platform.trust.chain import ChainError, Twin

__all__ = ["chain_levels", "evidence_rows", "fleet_maturity", "next_step"]


class TwinReader(Protocol):
    def twins(self) -> list[Twin]: ...


def chain_levels(connect: Callable[[], TwinReader]) -> tuple[dict[str, int], str | None]:
    """Each registered twin's level on chain, or an empty map and why it could not be read."""
    try:
        return {t.twin_id: t.maturity for t in connect().twins()}, None
    except ChainError as exc:  # ChainUnavailable included
        return {}, f"the TwinRegistry cannot be read now: {exc}"


def next_step(evidence: str) -> str:
    """What the twin lacks for the next level, in one line ("–" at the top)."""
    nxt = json.loads(evidence).get("next")
    if not nxt:
        return "–"
    return f"for {nxt['name']}: " + "; ".join(nxt["missing"])


def fleet_maturity(levels: pl.DataFrame, on_chain: dict[str, int]) -> pl.DataFrame:
    """One row per machine: the level earned (newest day), the level on chain, what is next."""
    return levels.select(
        "machine_id",
        "level",
        "level_name",
        pl.col("machine_id")
        .replace_strict(on_chain, default=None, return_dtype=pl.Int64)
        .alias("on_chain"),
        pl.col("evidence").map_elements(next_step, return_dtype=pl.String).alias("next"),
        "day",
    )


def _text(value: Any) -> str:
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            ids = [str(v.get("command_id") or v.get("ts") or "") for v in value]
            return ", ".join(i[:10] + ("…" if len(i) > 10 else "") for i in ids)
        return ", ".join(map(str, value)) or "–"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "–"
    return "–" if value is None else str(value)


def evidence_rows(evidence: str) -> list[dict[str, str]]:
    """Per level: met or not, what was seen (counts, times, ids) and what is missing."""
    rows = []
    for level in json.loads(evidence)["levels"]:
        seen = " · ".join(
            f"{k.replace('_', ' ')}: {_text(v)}" for k, v in level["evidence"].items()
        )
        rows.append(
            {
                "level": f"{level['level']} {level['name']}",
                "met": "yes" if level["met"] else "no",
                "evidence": seen,
                "missing": "; ".join(level["missing"]) or "–",
            }
        )
    return rows
