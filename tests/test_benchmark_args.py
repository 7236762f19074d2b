"""The benchmarks' shared seed lists (``benchmarks/_args.py``): a run whose seeds are ambiguous
is refused in one usage line before anything is simulated or trained."""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _seed_list():
    spec = importlib.util.spec_from_file_location("_args", BENCHMARKS / "_args.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.seed_list


def test_seed_lists_are_distinct_integers() -> None:
    seed_list = _seed_list()
    assert seed_list("8,11,12") == [8, 11, 12]
    assert seed_list(" 41, 42 ,") == [41, 42]
    for text, message in (
        ("8,x", "expected comma-separated integers, got '8,x'"),
        ("", "expected at least one seed"),
        (",", "expected at least one seed"),
        ("41,42,41", "expected distinct seeds, got '41,42,41'"),
    ):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            seed_list(text)


def test_closed_loop_refuses_a_seed_listed_twice_before_it_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "closed_loop.py"), "--eval-seeds", "41,42,41"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr
    assert "argument --eval-seeds: expected distinct seeds, got '41,42,41'" in out.stderr
