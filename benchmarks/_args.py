"""Command-line arguments shared by the benchmarks (a helper, not a benchmark: ``make bench``
skips ``_*.py``)."""

from __future__ import annotations

import argparse


def seed_list(text: str) -> list[int]:
    """A list of seeds, ``8,11,12``: distinct integers, at least one (a seed listed twice would
    count twice in the means and their spread). For ``argparse``'s ``type=``."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"expected at least one seed, got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"expected distinct seeds, got {text!r}")
    return seeds
