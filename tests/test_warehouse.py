"""The warehouse file: a writer's lock reads as busy (retry later), a damaged file as damaged."""

import os
import subprocess
import sys

import pytest

from dt_platform.warehouse import Warehouse, WarehouseBusy, WarehouseUnreadable

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(30)
"""


def test_a_file_held_by_another_process_is_busy(tmp_path) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path).write():
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WarehouseBusy, match="held by another process"):
            with Warehouse(path).read(timeout_s=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("damage", ["not a database", "flipped block"])
def test_a_damaged_file_is_reported_as_damaged_not_busy(tmp_path, damage: str) -> None:
    path = tmp_path / "warehouse.duckdb"
    with Warehouse(path).write() as con:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(100000)")
    data = bytearray(path.read_bytes())
    if damage == "not a database":
        data = bytearray(os.urandom(len(data)))
    else:
        data[5000:9000] = os.urandom(4000)  # checksum mismatch "in block at location …"
    path.write_bytes(bytes(data))
    with pytest.raises(WarehouseUnreadable, match="cannot be opened") as caught:
        with Warehouse(path).read(timeout_s=0.3) as con:
            con.execute("SELECT count(*) FROM t").fetchone()
    assert "held by another process" not in str(caught.value)
    assert "restore it from a backup" in str(caught.value)
