"""Naming a record to prove: the library parses, the CLI and the dashboard only present errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dt_platform.trust.audit import AuditError, RecordSpecError, parse_record_spec
from dt_platform.trust.audit_cli import prove


def test_parses_source_and_key_with_timestamps_unquoted() -> None:
    spec = "telemetry_digest:machine_id=SMT-01, sensor = vacuum_kpa ,hour=2026-11-20T13:00:00Z"
    assert parse_record_spec(spec) == (
        "telemetry_digest",
        {"machine_id": "SMT-01", "sensor": "vacuum_kpa", "hour": "2026-11-20T13:00:00Z"},
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("telemetry_digest", "expected SOURCE:key=value"),
        (":machine_id=SMT-01", "expected SOURCE:key=value"),
        ("rul_predictions: ", "expected SOURCE:key=value"),
        ("rul_predictions:machine_id", "'machine_id' in 'rul_predictions:machine_id' is not key"),
        ("rul_predictions:a=1,a=2", "key 'a' is given twice"),
    ],
)
def test_malformed_specs_raise_a_library_error(spec: str, message: str) -> None:
    with pytest.raises(RecordSpecError, match=message) as info:
        parse_record_spec(spec)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AuditError)


def test_cli_reports_a_malformed_spec_as_a_bad_parameter() -> None:
    result = CliRunner().invoke(prove, ["--partition", "2026-11-20", "--record", "x:a=1,a=2"])
    assert result.exit_code == 2
    assert "Error: Invalid value: key 'a' is given twice in 'x:a=1,a=2'" in result.output
