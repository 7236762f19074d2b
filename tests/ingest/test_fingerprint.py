"""The landing fingerprint changes exactly when something the platform would load changes."""

import os

from dt_platform.ingest.fingerprint import landing_fingerprint


def _touch(path, text: str, mtime_ns: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_the_fingerprint_follows_dumps_exports_and_the_registry(tmp_path) -> None:
    landing, registry = tmp_path / "landing", tmp_path / "machines.yaml"
    _touch(registry, "machines: []\n", 1_000)
    _touch(landing / "gw-a" / "day1.csv", "timestamp,machine_id\n", 2_000)
    _touch(landing / "cmms" / "wo.csv", "work_order\n", 3_000)
    first, n = landing_fingerprint(landing, registry)
    assert n == 2 and landing_fingerprint(landing, registry) == (first, 2)

    # files the loader ignores do not count: hidden, partial, being written
    _touch(landing / "gw-a" / ".hidden.csv", "x", 4_000)
    _touch(landing / "gw-a" / "day2.csv.part", "x", 4_000)
    _touch(landing / "cmms" / ".wo2.csv", "x", 4_000)
    assert landing_fingerprint(landing, registry) == (first, 2)

    seen = {first}
    for change in (
        lambda: _touch(landing / "gw-b" / "late.jsonl", "{}\n", 5_000),  # a new dump
        lambda: _touch(landing / "gw-a" / "day1.csv", "timestamp,machine_id\n", 6_000),  # resent
        lambda: _touch(landing / "cmms" / "wo.csv", "work_order,machine_id\n", 3_000),  # corrected
        lambda: _touch(registry, "machines: []\n", 7_000),  # the registry edited
        lambda: _touch(tmp_path / "machines.d" / "extra.yaml", "machines: []\n", 8_000),
    ):
        change()
        digest, _ = landing_fingerprint(landing, registry)
        assert digest not in seen
        seen.add(digest)
    assert landing_fingerprint(landing, registry)[1] == 3


def test_an_empty_or_missing_landing_has_a_fingerprint(tmp_path) -> None:
    digest, n = landing_fingerprint(tmp_path / "absent", tmp_path / "machines.yaml")
    assert n == 0 and len(digest) == 64
