"""What a newcomer met on the dashboard, each fixed and checked with Streamlit's AppTest on the
platform the demo built: no "None" cells, links to machines, readable RUL ticks; a proof form
that offers the snapshot's own records, keeps the verification on screen and compares versions;
production output for every machine type, distinct colours and thousands separators."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dt_platform.trust.audit import anchor_key, audit_partition
from dt_platform.trust.chain import AuditChain
from dt_platform.trust.ipfs import open_ipfs
from dt_platform.trust.snapshot.documents import attach_document
from dt_platform.warehouse import Warehouse

pytestmark = pytest.mark.integration

ENTRY = str(Path(__file__).resolve().parents[2] / "app" / "dashboard.py")
SESSION = "dt_signed_in"


def page(platform, role: str, name: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    at.switch_page(f"app_pages/{name}.py")
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def _text_cells(frame) -> list:
    """Every cell of the text columns, a missing one as None."""
    text = [c for c in frame.columns if pd.api.types.is_string_dtype(frame[c])]
    return [None if pd.isna(v) else v for c in text for v in frame[c].tolist()]


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]


def _formats(dataframe) -> dict[str, str]:
    columns = json.loads(dataframe.proto.columns)
    return {
        name: config.get("type_config", {}).get("format")
        for name, config in columns.items()
        if "type_config" in config
    }


def test_fleet_rows_have_no_none_link_to_their_machine_and_keep_notes_whole(platform) -> None:
    at = page(platform, "MANAGER", "fleet")
    fleet = at.dataframe[0].value
    cells = _text_cells(fleet)
    assert cells and None not in cells and "None" not in cells
    ids = [link.removeprefix("machine?machine=") for link in fleet["link"]]
    with Warehouse(platform.settings.warehouse_path).read() as con:
        active = {
            m for (m,) in con.execute("SELECT machine_id FROM machines WHERE active").fetchall()
        }
        rows = con.execute("SELECT DISTINCT note FROM rul_predictions").fetchall()
        notes = {n for (n,) in rows if n}
    assert set(ids) == active and all(link.startswith("machine?machine=") for link in fleet["link"])
    assert json.loads(at.dataframe[0].proto.columns)["link"]["type_config"]["type"] == "link"
    # the notes, cut short in the table, are listed whole below it
    listed = "\n".join(m.value for m in at.markdown)
    shown = {n for n in fleet["note"] if n != "–"}
    assert shown and shown <= notes and all(n in listed for n in shown)
    # the RUL axis is labelled at 1-3-10 steps, not only 0 / 2,000 / 4,000
    axis = _specs(at)[0]["layer"][0]["encoding"]["y"]["axis"]
    assert axis["values"][:4] == [0, 1, 3, 10] and axis["format"] == ",d"
    assert not any(None in _text_cells(df.value) for df in at.dataframe)


def test_the_machine_page_has_no_none_cells_readable_ticks_and_marks_refits(platform) -> None:
    at = page(platform, "MAINTAINER", "machine")
    orders = at.dataframe[-1].value
    assert "work_order" in orders.columns and len(orders) > 0
    assert None not in _text_cells(orders) and "None" not in _text_cells(orders)
    specs = _specs(at)
    rul = next(s for s in specs if "remaining useful life" in json.dumps(s))
    assert "values" in json.dumps(rul) and "symlog" in json.dumps(rul)
    damage = next(s for s in specs if "damage D" in json.dumps(s))
    assert "physics_version" in json.dumps(damage)  # a refit starts a new segment


def _snapshot_sources_with_records(platform, day: dt.date) -> dict[str, int]:
    """From the newest anchored snapshot folder's manifest, not from the page's own code."""
    with Warehouse(platform.settings.warehouse_path).read() as con:
        (folder,) = con.execute(
            """SELECT snapshot_dir FROM audit_snapshots
               WHERE partition = ? AND status = 'anchored' ORDER BY version DESC LIMIT 1""",
            [day],
        ).fetchone()
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    return {name: e["rows"] for name, e in manifest["sources"].items() if e["rows"]}


def test_the_proof_form_offers_the_snapshots_records_and_keeps_the_verification(
    platform,
) -> None:
    at = page(platform, "AUDITOR", "audit")
    day = at.selectbox[0].value
    held = _snapshot_sources_with_records(platform, day)
    source = at.selectbox(key="prove_source")
    assert source.value in held and set(source.options) == {
        f"{name} ({rows:,} records)" for name, rows in held.items()
    }

    next(b for b in at.button if b.label.startswith("Verify")).click()
    at.run()
    assert any("verified" in s.value for s in at.success)

    # touching the proof form keeps the verification on the page
    at.selectbox(key="prove_source").set_value("telemetry_digest")
    at.run()
    assert any("verified" in s.value for s in at.success)
    pickers = {s.key: s for s in at.selectbox if s.key and s.key.startswith("prove_key_")}
    assert set(pickers) == {
        f"prove_key_telemetry_digest_{c}" for c in ("machine_id", "sensor", "hour")
    }
    assert all(p.options and p.value is not None for p in pickers.values())
    pickers["prove_key_telemetry_digest_machine_id"].set_value("SMT-01")
    at.run()
    sensors = at.selectbox(key="prove_key_telemetry_digest_sensor").options
    assert "vacuum_kpa" in sensors  # narrowed to SMT-01's sensors
    assert not {"heater_temp_c", "speed_rpm"} & set(sensors)
    at.selectbox(key="prove_key_telemetry_digest_sensor").set_value("vacuum_kpa")
    at.run()
    next(b for b in at.button if b.label == "Prove").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("verifyRecord view accepts" in s.value for s in at.success)
    assert any("verified" in s.value for s in at.success)  # still there
    assert any("machine_id=SMT-01, sensor=vacuum_kpa" in c.value for c in at.caption)


@pytest.fixture
def day_with_two_versions(platform) -> dt.date:
    """The oldest anchored day, anchored again with a document attached (an OPERATOR's reason),
    as a daily report published after the fact would be."""
    settings = platform.settings
    ipfs = open_ipfs(settings)
    chain = AuditChain.connect(settings, read_only=True)
    with Warehouse(settings.warehouse_path).read() as con:
        day = con.execute(
            "SELECT min(partition) FROM audit_snapshots WHERE status = 'anchored'"
        ).fetchone()[0]
    if len(chain.anchor_versions(anchor_key(day))) >= 2:
        return day
    body = f"<html><body>report of {day}</body></html>".encode()
    cid = ipfs.add_bytes(body)
    with Warehouse(settings.warehouse_path).write() as con:
        attach_document(
            con,
            day,
            "report.html",
            cid,
            sha256=hashlib.sha256(body).hexdigest(),
            size_bytes=len(body),
            media_type="text/html",
        )
        result = audit_partition(
            con,
            ipfs,
            lambda: AuditChain.connect(settings),
            day,
            snapshots_dir=settings.snapshots_dir,
            reason="the day's report, published after the day was anchored",
        )
    assert result.status == "anchored", result
    return day


def test_two_versions_of_a_day_are_compared_side_by_side(platform, day_with_two_versions) -> None:
    at = page(platform, "AUDITOR", "audit")
    at.selectbox[0].set_value(day_with_two_versions)
    at.run()
    assert at.selectbox(key="compare_from").value == 1
    assert at.selectbox(key="compare_to").value == 2
    next(b for b in at.button if b.label == "Compare").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    said = "\n".join(m.value for m in at.markdown)
    assert "Version 1 → 2: **1** added, **0** changed, **0** removed" in said
    assert "published after the day was anchored" in said
    rows = at.dataframe[-1].value
    assert rows["source"].tolist() == ["published_documents"]
    assert rows["key"].tolist() == ["name=report.html"] and rows["change"].tolist() == ["added"]


def test_production_counts_output_for_every_type_with_distinct_colours(platform) -> None:
    at = page(platform, "MANAGER", "production")
    summary = at.dataframe[0].value
    with Warehouse(platform.settings.warehouse_path).read() as con:
        types = {t for (t,) in con.execute("SELECT DISTINCT machine_type FROM machines").fetchall()}
    assert set(summary["machine_type"]) == types and len(types) == 4
    assert summary["output"].notna().all() and (summary["output"] > 0).all()
    assert "no output counter" not in set(summary["output_unit"])
    units = dict(zip(summary["machine_type"], summary["output_unit"], strict=False))
    assert units["reflow_oven"] == "heat delivered (kWh)"
    assert units["cnc_spindle"] == "spindle revolutions"
    formats = _formats(at.dataframe[0])
    for column in ("output", "readings", "operating_h"):
        assert formats[column].startswith("%,"), (column, formats[column])  # 1,234,567
    colour = _specs(at)[0]["encoding"]["color"]
    machines = summary["machine_id"].nunique()
    assert colour["field"] == "machine_id"
    assert len(set(colour["scale"]["range"])) >= max(machines, 16)
