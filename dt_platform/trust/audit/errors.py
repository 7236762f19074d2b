"""Errors of the audit layer: what went wrong and what to do about it."""

from __future__ import annotations


class AuditError(Exception):
    """Auditing cannot go on as asked; the message says what to do."""


class NotAnchored(AuditError):
    """The partition (or the asked version) has never been anchored."""


class RecordNotFound(AuditError):
    """No record of that source has that key in the partition."""


class RecordSpecError(AuditError, ValueError):
    """A record is not named as ``SOURCE:key=value[,key=value…]``; the message shows the form."""
