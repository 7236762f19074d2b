"""Errors of snapshot building and reading."""

from __future__ import annotations


class SnapshotError(Exception):
    """A snapshot cannot be built or read as asked; the message says what to fix."""


class EmptySnapshot(SnapshotError):
    """The day has no records at all: there is no Merkle root to anchor."""
