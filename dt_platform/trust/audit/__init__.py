"""Audit a day: build its snapshot, publish it to IPFS, anchor it on chain; verify; prove.

Partition key on chain
----------------------
A day is anchored under its plain ISO date, ``2026-11-20`` (:func:`anchor_key`): the same string
as the Dagster daily partition key and as ``manifest.json``'s ``partition``. One key per day
covers every source of the snapshot (telemetry digests, predictions, alerts, decisions).

Durable queue
-------------
Progress lives in the warehouse table ``audit_snapshots`` (one row per build that needs, or
needed, publishing). A row is written *before* each outside call, so a crash, an IPFS outage or an
unreachable chain leaves it pending with its error, and :func:`process_pending` finishes it later:

* ``pending_publish`` — built on disk, not on IPFS yet;
* ``pending_anchor`` — on IPFS (``cid`` known), not anchored yet;
* ``anchored`` — on chain (``version``, ``tx_hash``, ``gas_used``);
* ``unchanged`` — a rebuild whose records equal the anchored version: nothing sent;
* ``superseded`` — replaced by a newer build of the same day before it was anchored;
* ``awaiting_reason`` — a rebuild no late or corrected file explains (:mod:`.explain`): nothing is
  sent until an OPERATOR gives a reason (:func:`audit_partition` with ``reason``, i.e.
  ``dt-platform audit anchor``); ``detail`` says what changed and why it waits;
* ``lost`` — anchored once, but the chain no longer holds it (:func:`reconcile_anchors`); a
  re-anchor row (``requeued_from``) with the same snapshot is queued in its place.

Retrying never anchors twice: :meth:`AuditChain.anchor` returns ``already_anchored`` when the
latest version holds the same root and CID (e.g. the receipt was lost). A rebuilt day whose root
differs from the anchored one becomes a new version only with a reason — the files that explain
it ("late or corrected data: 1 file(s) changed the records of …: gw1/late.csv (…)") or an
OPERATOR's; the contract refuses a silent overwrite.

Verification and proofs are read-only: they need no OPERATOR key and write nothing.

Modules: :mod:`.table` (the ``audit_snapshots`` rows and their states), :mod:`.results`
(:class:`AuditResult`), :mod:`.publish` (moving one row to IPFS and the chain), :mod:`.queue`
(:func:`audit_partition`, :func:`process_pending`), :mod:`.explain` (whether files explain a
rebuild), :mod:`.committed` (a build's records read back), :mod:`.reconcile`
(:func:`reconcile_anchors`), :mod:`.fetch` (an anchored snapshot read back from IPFS),
:mod:`.diff` (records that differ), :mod:`.report` (:class:`VerificationReport`), :mod:`.verify`
(:func:`verify_partition`, one version), :mod:`.history` (:func:`verify_versions`, every version
and what changed between them), :mod:`.proofs` (:func:`prove_record` and record specs),
:mod:`.anchors` (the on-chain key of a day), :mod:`.errors`.
"""

from dt_platform.trust.audit.anchors import anchor_key
from dt_platform.trust.audit.diff import FieldDiff, RecordDiff, diff_records
from dt_platform.trust.audit.errors import (
    AuditError,
    NotAnchored,
    RecordNotFound,
    RecordSpecError,
)
from dt_platform.trust.audit.explain import Explanation, FileChange, explain_rebuild
from dt_platform.trust.audit.history import (
    DayVerification,
    VersionChange,
    describe_change,
    verify_versions,
)
from dt_platform.trust.audit.proofs import Proof, parse_record_spec, prove_record
from dt_platform.trust.audit.queue import audit_partition, process_pending
from dt_platform.trust.audit.reconcile import AnchorGap, Reconciliation, reconcile_anchors
from dt_platform.trust.audit.report import Problem, VerificationReport
from dt_platform.trust.audit.results import AuditResult, audit_history
from dt_platform.trust.audit.table import (
    ANCHORED,
    AWAITING_REASON,
    LOST,
    PENDING_ANCHOR,
    PENDING_PUBLISH,
    SUPERSEDED,
    UNCHANGED,
    ensure_audit_table,
)
from dt_platform.trust.audit.verify import verify_partition
from dt_platform.trust.snapshot import EmptySnapshot

__all__ = [
    "ANCHORED",
    "AWAITING_REASON",
    "LOST",
    "PENDING_ANCHOR",
    "PENDING_PUBLISH",
    "SUPERSEDED",
    "UNCHANGED",
    "AnchorGap",
    "AuditError",
    "AuditResult",
    "DayVerification",
    "EmptySnapshot",
    "Explanation",
    "FieldDiff",
    "FileChange",
    "NotAnchored",
    "Problem",
    "Proof",
    "Reconciliation",
    "RecordDiff",
    "RecordNotFound",
    "RecordSpecError",
    "VerificationReport",
    "VersionChange",
    "anchor_key",
    "audit_history",
    "audit_partition",
    "describe_change",
    "diff_records",
    "ensure_audit_table",
    "explain_rebuild",
    "parse_record_spec",
    "process_pending",
    "prove_record",
    "reconcile_anchors",
    "verify_partition",
    "verify_versions",
]
