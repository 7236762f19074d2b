from dt_platform.twin import db
from dt_platform.twin.state import (
    all_states,
    open_state,
    record_reported,
    set_desired,
    twin_state,
)


def test_delta_is_what_the_machine_has_not_applied(tmp_path):
    con = open_state(db.connect(tmp_path / "twin.sqlite"))
    record_reported(con, "CNC-01", "gw-opcua", mode="production", settings={"derate_pct": 0.0})
    assert twin_state(con, "CNC-01").delta == {}
    with db.transaction(con):
        d = set_desired(con, "CNC-01", {"derate_pct": 20.0}, "cmd-1")
    assert d.version == 1 and d.settings["maintenance"] is False
    assert twin_state(con, "CNC-01").delta == {"derate_pct": 20.0}
    record_reported(con, "CNC-01", "gw-opcua", settings={"derate_pct": 20.0}, applied_version=1)
    state = twin_state(con, "CNC-01")
    assert state.delta == {} and state.reported.mode == "production"
    assert state.reported.applied_version == 1


def test_a_machine_never_heard_of_has_the_whole_desired_state_as_delta(tmp_path):
    con = open_state(db.connect(tmp_path / "twin.sqlite"))
    with db.transaction(con):
        set_desired(con, "OVEN-01", {"maintenance": True}, "cmd-2")
    (state,) = all_states(con)
    assert state.reported is None and state.delta == {"maintenance": True}


def test_unknown_settings_are_refused(tmp_path):
    import pytest

    con = open_state(db.connect(tmp_path / "twin.sqlite"))
    with pytest.raises(ValueError, match="unknown desired setting"):
        set_desired(con, "OVEN-01", {"speed": 3}, None)
