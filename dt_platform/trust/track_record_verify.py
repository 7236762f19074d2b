"""Check the published track record against what was anchored (``dt-platform track-record
--verify``).

For the newest published summary (or the one of a given day) and every day up to it that
closed a life:

1. the day's snapshot is fetched by its anchored CID and each ``track_record_scores`` record is
   proved against the anchored Merkle root;
2. every derived figure of an anchored score (true RUL, error, PIT, coverage flags, band) is
   recomputed from the row's prediction and life (:func:`~dt_platform.phm.track_record.rescore`);
3. each scored prediction is found in the anchored ``rul_predictions`` of the day it was made
   (anchored before the failure was known) with the same estimate, interval, model version and
   type, and its alert flag in that day's anchored ``maintenance_alerts``;
4. the summary is recomputed from the anchored scores alone and compared with the one the
   warehouse publishes, and with the summary anchored on that day;
5. the warehouse's score rows are compared with the anchored ones.

Every disagreement is one line in :attr:`TrackRecordCheck.problems`; nothing is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import polars as pl

from dt_platform.phm.track_record import DERIVED, SCORE_SCHEMA, rescore
from dt_platform.phm.track_record_summary import SUMMARY_SCHEMA, compare, same, summarize
from dt_platform.phm.track_record_table import published_summary, read_scores
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.ipfs import IpfsStore
from dt_platform.trust.track_record_anchored import AnchoredDays

KEY = ("machine_id", "ts")
PREDICTION_FIELDS = ("machine_type", "model_version", "rul_fused_h", "rul_fused_lo_h",
                     "rul_fused_hi_h")  # fmt: skip


@dataclass
class TrackRecordCheck:
    """What ``--verify`` found: ``ok`` when a summary is published and nothing disagrees."""

    as_of: dt.date | None
    closing_days: list[dt.date] = field(default_factory=list)
    scores: int = 0
    proved: int = 0
    predictions_matched: int = 0
    problems: list[str] = field(default_factory=list)
    published: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SUMMARY_SCHEMA))
    recomputed: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SUMMARY_SCHEMA))

    @property
    def ok(self) -> bool:
        return self.as_of is not None and not self.problems

    def render(self, limit: int = 50) -> str:
        days = ", ".join(d.isoformat() for d in self.closing_days) or "none"
        lines = [
            f"track record published {self.as_of or 'never'}; lives closed on: {days}",
            f"{self.scores} anchored score record(s), {self.proved} record(s) proved against "
            f"their anchored roots, {self.predictions_matched} prediction(s) found as anchored "
            "on the day they were made",
        ]
        if self.ok:
            lines.append("OK: the published track record is what the anchored records give")
        else:
            lines.append(f"MISMATCH: {len(self.problems)} problem(s)")
            lines += [f"  - {p}" for p in self.problems[:limit]]
            if len(self.problems) > limit:
                lines.append(f"  … and {len(self.problems) - limit} more")
        return "\n".join(lines)


def _scores(frame: pl.DataFrame, label: str, problems: list[str]) -> pl.DataFrame | None:
    missing = [c for c in SCORE_SCHEMA if c not in frame.columns]
    if missing:
        problems.append(f"{label}: the anchored scores lack the columns {missing}")
        return None
    return frame.select([pl.col(c).cast(t) for c, t in SCORE_SCHEMA.items()])


def _name(row: dict) -> str:
    return f"{row['machine_id']} at {row['ts']:%Y-%m-%dT%H:%MZ}"


def _row_problems(
    label: str, ours: pl.DataFrame, theirs: pl.DataFrame, columns: Sequence[str]
) -> list[str]:
    """Rows of ``ours`` missing from, added to or differing from ``theirs`` (by machine and ts)."""
    mine = {tuple(r[k] for k in KEY): r for r in ours.iter_rows(named=True)}
    other = {tuple(r[k] for k in KEY): r for r in theirs.iter_rows(named=True)}
    out = []
    for key in sorted(set(mine) | set(other)):
        if key not in other:
            out.append(f"{label}: {_name(mine[key])} has no anchored counterpart")
        elif key not in mine:
            out.append(f"{label}: {_name(other[key])} is anchored but missing")
        else:
            out += [
                f"{label}: {_name(mine[key])} {c} is {mine[key][c]!r}, anchored {other[key][c]!r}"
                for c in columns
                if not same(mine[key][c], other[key][c])
            ]
    return out


def _check_predictions(
    anchored: AnchoredDays, scores: pl.DataFrame, check: TrackRecordCheck
) -> None:
    for (day,), rows in scores.group_by("prediction_day", maintain_order=True):
        preds = anchored.source(day, "rul_predictions")
        if preds is None:
            check.problems.append(
                f"{day}: {rows.height} scored prediction(s) of this day are in no anchored "
                "rul_predictions"
            )
            continue
        alerts = anchored.source(day, "maintenance_alerts")
        raised = (
            {(r["machine_id"], r["ts"]): r["horizon_h"] for r in alerts.iter_rows(named=True)}
            if alerts is not None
            else {}
        )
        made = {(r["machine_id"], r["ts"]): r for r in preds.iter_rows(named=True)}
        for row in rows.iter_rows(named=True):
            key = (row["machine_id"], row["ts"])
            if key not in made:
                check.problems.append(f"{_name(row)}: not among the anchored predictions of {day}")
                continue
            bad = [c for c in PREDICTION_FIELDS if not same(row[c], made[key].get(c))]
            if not same(row["alert_horizon_h"], raised.get(key)):
                bad.append("alert")
            if bad:
                check.problems.append(
                    f"{_name(row)}: {', '.join(bad)} differ from what was anchored on {day}"
                )
            else:
                check.predictions_matched += 1


def _filtered(frame: pl.DataFrame, model_version: str | None, machine_type: str | None):
    if model_version is not None:
        frame = frame.filter(pl.col("model_version") == model_version)
    if machine_type is not None:
        frame = frame.filter(pl.col("machine_type") == machine_type)
    return frame


def verify_track_record(
    con: duckdb.DuckDBPyConnection,
    ipfs: IpfsStore,
    chain: AuditChain,
    *,
    as_of: dt.date | None = None,
    model_version: str | None = None,
    machine_type: str | None = None,
) -> TrackRecordCheck:
    """Check the summary published on ``as_of`` (default: the newest) against the anchored
    records (see the module docs); ``model_version``/``machine_type`` limit the summary rows
    compared, every anchored score is checked."""
    published = published_summary(con, as_of)
    if published.is_empty():
        check = TrackRecordCheck(None)
        check.problems.append("no track record is published yet: no life has closed")
        return check
    day = published["day"][0]
    stored = read_scores(con, through=day)
    check = TrackRecordCheck(day, sorted(set(stored["day"].to_list()) | {day}))
    anchored = AnchoredDays(ipfs, chain)
    parts = []
    for closing in check.closing_days:
        frame = anchored.source(closing, "track_record_scores")
        rows = None if frame is None else _scores(frame, str(closing), check.problems)
        if rows is None:
            if frame is None:
                check.problems.append(f"{closing}: no anchored track_record_scores")
            continue
        parts.append(rows)
        here = stored.filter(pl.col("day") == closing)
        check.problems += _row_problems(f"warehouse {closing}", here, rows, list(SCORE_SCHEMA))
    scores = pl.concat(parts) if parts else pl.DataFrame(schema=SCORE_SCHEMA)
    check.scores = scores.height
    check.problems += _row_problems("recomputed", rescore(scores), scores, DERIVED)
    _check_predictions(anchored, scores, check)
    check.published = _filtered(published, model_version, machine_type)
    check.recomputed = _filtered(summarize(scores, day), model_version, machine_type)
    check.problems += [f"summary {p}" for p in compare(check.published, check.recomputed)]
    summary = anchored.source(day, "track_record_summary")
    if summary is None:
        check.problems.append(f"{day}: the published summary is not in the day's snapshot")
    else:
        theirs = _filtered(
            summary.select([pl.col(c).cast(t) for c, t in SUMMARY_SCHEMA.items()]),
            model_version,
            machine_type,
        )
        check.problems += [f"anchored summary {p}" for p in compare(check.published, theirs)]
    check.problems = anchored.problems + check.problems
    check.proved = anchored.proved
    return check
