"""The day's decisions: for each machine's latest prediction, the policy's choice, carried out
by the mode in force, recorded in the twin store and copied to the warehouse for the audit.

What the policy is told (:func:`context_for`): the twin's reported mode and derate; busy crews
(machines in maintenance mode or with an open maintenance command); when the spare is at hand
(ordered with the first decision other than ``nothing`` for this component — inspecting,
derating or maintaining all say its end is near — arriving after the lead time); an
inspection already asked for this component; a typical component life of the type (median of
age + median RUL over the fleet's predictions of the day); the production plan.

A component being replaced (its prediction's basis ``failed``: a corrective work order is open)
gets no decision: the repair under way is the action (:attr:`DecisionRun.under_repair`).

Modes: without valid MANAGER limits every decision that needs a command is **advisory**
(``advised``, waiting for a MAINTAINER, :func:`~dt_platform.twin.decision_store.approve_decision`).
With them (:class:`Autonomy`), a fresh decision within the limits is **autonomous**: the platform
issues the command, signs it with its OPERATOR key and submits it with the limits, which the
command flow checks again; a refusal leaves the decision advisory, with the refusal recorded.
Only decisions on predictions at most :data:`FRESH_H` hours old act (a re-run of a past day
decides again but sends nothing).

The warehouse table ``decisions`` holds the day's decisions with the prediction each rested on,
keyed by (machine_id, ts): a source of the day's audit snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import polars as pl
from eth_account.signers.local import LocalAccount

from dt_platform.ingest.registry import Machine
from dt_platform.twin import typed_data as td
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_store import list_commands
from dt_platform.twin.commands import OPEN_STATES, CommandRefused, DesiredPublisher, RoleReader
from dt_platform.twin.costs import Capacity, Costs
from dt_platform.twin.db import transaction
from dt_platform.twin.decision_store import (
    COMMAND_TTL_S,
    DecisionRecord,
    add_event,
    command_for,
    decision_id_for,
    get_decision,
    list_decisions,
    open_decisions,
)
from dt_platform.twin.limits_store import SignedLimits
from dt_platform.twin.policy import Decision, choose_action
from dt_platform.twin.policy_options import DecisionContext
from dt_platform.twin.production_plan import ProductionPlan
from dt_platform.twin.rul_belief import RulBelief
from dt_platform.twin.state import all_states, reported

__all__ = ["Autonomy", "DecisionRun", "context_for", "decide_day", "write_decisions_table"]

FRESH_H = 2.0
INSPECTION_MEMORY_H = 7 * 24.0
WAREHOUSE_COLUMNS = {
    "day": "DATE", "machine_id": "VARCHAR", "ts": "TIMESTAMPTZ", "action": "VARCHAR",
    "derate_pct": "DOUBLE", "at": "TIMESTAMPTZ", "expected_costs": "VARCHAR",
    "reason": "VARCHAR", "rul_fused_h": "DOUBLE", "rul_fused_lo_h": "DOUBLE",
    "rul_fused_hi_h": "DOUBLE", "model_version": "VARCHAR", "prediction_ts": "TIMESTAMPTZ",
    "mode": "VARCHAR", "status": "VARCHAR", "command_id": "VARCHAR",
}  # fmt: skip


@dataclass(frozen=True)
class Autonomy:
    """What acting by itself needs: the current signed limits, the platform's OPERATOR key, the
    chain's role reader, the command domain and (optionally) the desired-state publisher."""

    limits: SignedLimits
    operator: LocalAccount
    roles: RoleReader
    domain: td.Domain
    publisher: DesiredPublisher | None = None


@dataclass
class DecisionRun:
    records: list[DecisionRecord] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Machines with no usable prediction."""
    under_repair: list[str] = field(default_factory=list)
    """Machines whose component is being replaced (prediction basis ``failed``: a corrective
    work order is open): the repair is the action, nothing is decided."""
    notes: list[str] = field(default_factory=list)
    cost_avoided: float = 0.0
    """Σ over the run's new decisions of E[cost of nothing] − E[cost of the chosen action]."""

    @property
    def actions(self) -> dict[str, int]:
        return dict(Counter(r.action for r in self.records))


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat()


def _latest(predictions: pl.DataFrame) -> list[dict]:
    usable = predictions.filter(pl.col("rul_fused_h").is_not_null())
    if usable.is_empty():
        return []
    return usable.sort("ts").group_by("machine_id").last().sort("machine_id").to_dicts()


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _life_by_type(rows: list[dict]) -> dict[str, float]:
    lives: dict[str, list[float]] = {}
    for r in rows:
        if r.get("component_installed_at") is not None:
            age = (r["ts"] - r["component_installed_at"]).total_seconds() / 3600.0
            lives.setdefault(r["machine_type"], []).append(age + float(r["rul_fused_h"]))
    return {t: statistics.median(v) for t, v in lives.items() if v}


def context_for(
    con: sqlite3.Connection, row: dict, *, plan: ProductionPlan, capacity: Capacity,
    life_h: float | None,
) -> DecisionContext:  # fmt: skip
    """The policy's context for one prediction row (see the module docstring)."""
    machine_id, now = row["machine_id"], row["ts"]
    installed = row.get("component_installed_at")
    rep = reported(con, machine_id)
    busy = {
        s.machine_id for s in all_states(con) if s.reported and s.reported.mode == "maintenance"
    }
    commands = list_commands(con, limit=1000)
    busy |= {
        c.machine_id for c in commands if c.state in OPEN_STATES and c.action == "maintenance_on"
    }
    since = installed.timestamp() if installed is not None else 0.0
    inspected = any(
        c.machine_id == machine_id and c.action == "inspect" and c.issued_at >= since
        and c.issued_at >= now.timestamp() - INSPECTION_MEMORY_H * 3600 and c.state != "expired"
        for c in commands
    )  # fmt: skip
    ordered = con.execute(
        "SELECT min(ts) FROM decisions WHERE machine_id = ? AND action != 'nothing' "
        "AND ts >= ? AND ts <= ?",
        (machine_id, _iso(installed) if installed is not None else "", _iso(now)),
    ).fetchone()[0]
    spare_at = None
    if ordered:
        lead = dt.timedelta(hours=capacity.lead_time_h(row["machine_type"]))
        spare_at = max(dt.datetime.fromisoformat(ordered) + lead, now)
    age = (now - installed).total_seconds() / 3600.0 if installed is not None else None
    return DecisionContext(
        machine_id=machine_id,
        machine_type=row["machine_type"],
        now=now,
        plan=plan,
        busy_crews=len(busy - {machine_id}),
        spare_available_at=spare_at,
        current_derate_pct=float((rep.settings if rep else {}).get("derate_pct", 0.0) or 0.0),
        component_age_h=age,
        life_h=life_h,
        inspected_recently=inspected,
    )


def _act(
    con: sqlite3.Connection, registry: Sequence[Machine], cmd: tuple,
    ctx: DecisionContext, autonomy: Autonomy, wall: dt.datetime,
) -> tuple[str | None, str | None]:  # fmt: skip
    """Send the command autonomously; (command_id, refusal)."""
    try:
        draft = issue_draft(
            con, registry, ctx.machine_id, cmd[0], domain=autonomy.domain, now=wall,
            percent=cmd[1], ttl_s=COMMAND_TTL_S,
        )  # fmt: skip
        signature = td.sign_typed_data(draft.typed_data, autonomy.operator)
        submit_signature(
            con, draft.command_id, signature, roles=autonomy.roles, publisher=autonomy.publisher,
            domain=autonomy.domain, now=wall, limits=autonomy.limits,
            in_customer_order=ctx.customer_order(),
        )  # fmt: skip
    except CommandRefused as exc:
        return None, f"{exc.reason_code}: {exc.detail}"
    except td.TypedDataError as exc:
        return None, f"{exc.reason}: {exc.detail}"
    return draft.command_id, None


def _insert(
    con: sqlite3.Connection, row: dict, d: Decision, *, mode: str, status: str,
    command_id: str | None, limits_id: str | None, detail: dict, wall: dt.datetime,
) -> str:  # fmt: skip
    did = decision_id_for(row["machine_id"], row["ts"])
    ts, at = _iso(row["ts"]), _iso(wall)
    with transaction(con):
        con.execute(
            "UPDATE decisions SET status = 'superseded', updated_at = ? WHERE machine_id = ? "
            "AND ts < ? AND status = 'advised' AND command_id IS NULL",
            (at, row["machine_id"], ts),
        )
        con.execute(
            """INSERT INTO decisions (decision_id, machine_id, machine_type, day, ts, action,
                   derate_pct, at, expected_cost, reason, rul_fused_h, rul_fused_lo_h,
                   rul_fused_hi_h, model_version, prediction_ts, mode, status, command_id,
                   limits_id, detail, decided_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                did, row["machine_id"], row["machine_type"], row["ts"].astimezone(dt.UTC).date().isoformat(),
                ts, d.action, d.derate_pct, _iso(d.at) if d.at else None,
                json.dumps({k: round(v, 2) for k, v in d.expected_cost.items()}, sort_keys=True),
                d.reason, row["rul_fused_h"], row.get("rul_fused_lo_h"), row.get("rul_fused_hi_h"),
                row.get("model_version"), ts, mode, status, command_id, limits_id,
                json.dumps(detail, sort_keys=True, default=str), at, at,
            ),
        )  # fmt: skip
        add_event(con, did, at, "decided", status, detail={"mode": mode, "action": d.action})
    return did


def decide_day(
    con: sqlite3.Connection,
    predictions: pl.DataFrame,
    *,
    registry: Sequence[Machine],
    now: dt.datetime,
    plan: ProductionPlan | None = None,
    costs: Costs | None = None,
    capacity: Capacity | None = None,
    autonomy: Autonomy | None = None,
) -> DecisionRun:
    """Decide on each machine's latest prediction in ``predictions`` (a day of
    ``rul_predictions``); ``now`` is the wall clock (freshness and command times)."""
    open_decisions(con)
    plan, costs, capacity = plan or ProductionPlan(), costs or Costs(), capacity or Capacity()
    rows = _latest(predictions)
    lives = _life_by_type(rows)
    run = DecisionRun(
        skipped=sorted(set(predictions["machine_id"].to_list()) - {r["machine_id"] for r in rows})
    )
    for row in rows:
        if row.get("basis") == "failed":
            run.under_repair.append(row["machine_id"])
            continue
        did = decision_id_for(row["machine_id"], row["ts"])
        if con.execute("SELECT 1 FROM decisions WHERE decision_id = ?", (did,)).fetchone():
            run.records.append(get_decision(con, did))  # decided already: a re-run changes nothing
            continue
        ctx = context_for(
            con, row, plan=plan, capacity=capacity, life_h=lives.get(row["machine_type"])
        )
        belief = RulBelief.from_interval(
            row["rul_fused_h"], _or(row.get("rul_fused_lo_h"), row["rul_fused_h"]),
            _or(row.get("rul_fused_hi_h"), row["rul_fused_h"]),
        )  # fmt: skip
        d = choose_action(belief, ctx, costs, capacity)
        rep = reported(con, row["machine_id"])
        cmd = command_for(
            d.action, d.derate_pct, _iso(d.at) if d.at else None,
            current_derate_pct=ctx.current_derate_pct, mode=rep.mode if rep else None, now=ctx.now,
        )  # fmt: skip
        fresh = (now - row["ts"]).total_seconds() <= FRESH_H * 3600
        mode = "autonomous" if autonomy else "advisory"
        status, command_id, detail = "advised", None, {"p_fail": d.p_fail, "excluded": d.excluded}
        if cmd is None:
            later = d.action.startswith("maintain") and d.at is not None and d.at > ctx.now
            status = "scheduled" if later else "no_action"
        elif not fresh:
            mode, detail["not_sent"] = "advisory", f"prediction older than {FRESH_H:g} h"
        elif autonomy is not None:
            why = autonomy.limits.limits.refusal(
                ctx.machine_id, now, derate_pct=cmd[1] or 0.0,
                stops_production=cmd[0] == "maintenance_on" and (rep is None or rep.mode == "production"),
                in_customer_order=ctx.customer_order(),
            )  # fmt: skip
            if why is None:
                command_id, why = _act(con, registry, cmd, ctx, autonomy, now)
            if why is None:
                status = "commanded"
            else:
                mode, command_id, detail["autonomous_refused"] = "advisory", None, why
                run.notes.append(f"{ctx.machine_id}: advisory ({why})")
        did = _insert(
            con, row, d, mode=mode, status=status, command_id=command_id,
            limits_id=autonomy.limits.limits_id if autonomy and mode == "autonomous" else None,
            detail=detail, wall=now,
        )  # fmt: skip
        run.cost_avoided += max(d.expected_cost["nothing"] - d.expected_cost[d.action], 0.0)
        run.records.append(get_decision(con, did))
    return run


def write_decisions_table(
    duck: duckdb.DuckDBPyConnection, twin: sqlite3.Connection, day: dt.date
) -> int:
    """Replace the warehouse's ``decisions`` rows of ``day`` by the twin store's (with their
    current status); returns the number of rows."""
    cols = ", ".join(f'"{c}" {t}' for c, t in WAREHOUSE_COLUMNS.items())
    duck.execute(f"CREATE TABLE IF NOT EXISTS decisions ({cols})")
    duck.execute("DELETE FROM decisions WHERE day = ?", [day])
    records = list_decisions(twin, day=day, limit=5000)
    names = ", ".join(f'"{c}"' for c in WAREHOUSE_COLUMNS)
    marks = ", ".join("?" * len(WAREHOUSE_COLUMNS))
    for r in records:
        duck.execute(
            f"INSERT INTO decisions ({names}) VALUES ({marks})",
            [
                day, r.machine_id, dt.datetime.fromisoformat(r.ts), r.action, r.derate_pct,
                dt.datetime.fromisoformat(r.at) if r.at else None,
                json.dumps(r.expected_cost, sort_keys=True), r.reason, r.rul_fused_h,
                r.rul_fused_lo_h, r.rul_fused_hi_h, r.model_version,
                dt.datetime.fromisoformat(r.prediction_ts), r.mode, r.status, r.command_id,
            ],
        )  # fmt: skip
    return len(records)
