"""Which pages an account may open, from its roles and live grants (no Streamlit, no chain)."""

from __future__ import annotations

import datetime as dt

import pytest

from app.access import (
    PAGES,
    Access,
    AccessDenied,
    allowed_pages,
    production_scope,
    read_access,
    require,
)

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
ADDRESS = "0x0000000000000000000000000000000000000001"


class FakeChain:
    def __init__(self, roles=(), grants=None) -> None:
        self.roles = set(roles)
        self.grants = grants or {}
        self.calls = 0

    def roles_of(self, account: str) -> set[str]:
        self.calls += 1
        return set(self.roles)

    def datasets_of(self, account: str) -> list[str]:
        return list(self.grants)

    def grant_expiry(self, dataset: str, account: str) -> dt.datetime | None:
        return self.grants[dataset]


def access(*roles: str, datasets: tuple[str, ...] = ()) -> Access:
    return Access(ADDRESS, frozenset(roles), frozenset(datasets), NOW)


def keys(a: Access) -> list[str]:
    return [p.key for p in allowed_pages(a)]


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ((), []),
        (("OPERATOR",), []),
        (
            ("MAINTAINER",),
            ["fleet", "machine", "alarms", "live", "decisions", "maintenance_plan"],
        ),
        (("QC",), []),
        (("AUDITOR",), ["audit", "track_record"]),
        (("SUPPLIER",), ["audit", "track_record"]),
        (("ADMIN",), ["roles"]),
        (
            ("MANAGER",),
            [
                "fleet",
                "machine",
                "alarms",
                "live",
                "decisions",
                "maintenance_plan",
                "production",
                "roi",
                "reports",
                "audit",
                "track_record",
                "roles",
            ],
        ),
    ],
)
def test_pages_by_role(roles: tuple[str, ...], expected: list[str]) -> None:
    assert keys(access(*roles)) == expected


def test_a_production_grant_opens_the_production_page_for_its_types_only() -> None:
    qc = access("QC", datasets=("production/smt_placer",))
    assert keys(qc) == ["production"]
    types = ["smt_placer", "reflow_oven", "cnc_spindle"]
    assert production_scope(qc, types) == ["smt_placer"]
    assert production_scope(access("MANAGER"), types) == sorted(types)
    # a grant of a type the line does not have shows nothing
    assert production_scope(access(datasets=("production/turbofan",)), types) == []


def test_read_access_counts_only_live_grants_by_the_servers_clock() -> None:
    chain = FakeChain(
        roles={"QC"},
        grants={
            "production/smt_placer": NOW + dt.timedelta(days=1),
            "production/reflow_oven": NOW - dt.timedelta(seconds=1),  # block time lags
            "production/cnc_spindle": None,  # revoked or expired on chain
        },
    )
    got = read_access(chain, ADDRESS, NOW)
    assert got.roles == {"QC"} and got.datasets == {"production/smt_placer"}
    assert got.checked_at == NOW


def test_require_explains_a_refusal() -> None:
    assert require(access("MANAGER"), "production").roles == {"MANAGER"}
    with pytest.raises(AccessDenied, match="sign in"):
        require(None, "fleet")
    with pytest.raises(AccessDenied, match=r"needs MAINTAINER or MANAGER"):
        require(access("AUDITOR"), "fleet")
    with pytest.raises(AccessDenied, match=r"grant of a production/"):
        require(access("QC"), "production")


def test_every_page_has_a_script() -> None:
    from pathlib import Path

    pages = Path(__file__).resolve().parents[2] / "app" / "app_pages"
    for rule in PAGES:
        assert (pages / f"{rule.key}.py").is_file(), rule.key
