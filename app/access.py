"""Who may open which dashboard page: on-chain roles and data-sharing grants, read fresh.

Every page run asks the chain again (:func:`read_access`), so a role revoked on chain closes the
page at the user's next click, whatever the session says. When the chain cannot be asked the
answer is "no access" (fail closed). Nothing here touches Streamlit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "PAGES",
    "PRODUCTION_DATASET_PREFIX",
    "Access",
    "AccessDenied",
    "PageRule",
    "allowed_pages",
    "production_dataset",
    "production_scope",
    "read_access",
    "require",
]

PRODUCTION_DATASET_PREFIX = "production/"
"""Grants of ``production/<machine_type>`` share that type's production figures (e.g. with QC)."""


def production_dataset(machine_type: str) -> str:
    return f"{PRODUCTION_DATASET_PREFIX}{machine_type}"


@dataclass(frozen=True)
class PageRule:
    """A page and who may open it: any of ``roles``, or a live grant of a dataset under
    ``dataset_prefix``."""

    key: str
    title: str
    icon: str
    roles: frozenset[str]
    dataset_prefix: str | None = None
    description: str = ""


PAGES: tuple[PageRule, ...] = (
    PageRule(
        "fleet",
        "Fleet health",
        ":material/monitor_heart:",
        frozenset({"MANAGER", "MAINTAINER"}),
        description="remaining useful life of every machine, with its interval and basis",
    ),
    PageRule(
        "machine",
        "Machine detail",
        ":material/precision_manufacturing:",
        frozenset({"MANAGER", "MAINTAINER"}),
        description="one machine's sensors, damage and RUL over time, and its work orders",
    ),
    PageRule(
        "alarms",
        "Alarms",
        ":material/notifications_active:",
        frozenset({"MANAGER", "MAINTAINER"}),
        description="what is alarming now (machines at risk, drifting or offline), each alarm's "
        "history and its acknowledgement; the maintenance alerts by day",
    ),
    PageRule(
        "live",
        "Live twin",
        ":material/sensors:",
        frozenset({"MANAGER", "MAINTAINER"}),
        description="each machine's reported and desired state, live; signed commands and "
        "their approvals",
    ),
    PageRule(
        "decisions",
        "Decisions",
        ":material/psychology:",
        frozenset({"MANAGER", "MAINTAINER"}),
        description="what the twin advises or did for each machine and why; approvals "
        "(MAINTAINER) and autonomy limits (MANAGER), signed with the wallet",
    ),
    PageRule(
        "maintenance_plan",
        "Maintenance plan",
        ":material/event_upcoming:",
        frozenset({"MANAGER", "MAINTAINER"}),
        description="open risks ranked by risk and cost, with the next planned stop and the "
        "action decided for each machine",
    ),
    PageRule(
        "production",
        "Production",
        ":material/factory:",
        frozenset({"MANAGER"}),
        dataset_prefix=PRODUCTION_DATASET_PREFIX,
        description="operating hours, throughput and data quality per machine and day",
    ),
    PageRule(
        "roi",
        "Return on investment",
        ":material/savings:",
        frozenset({"MANAGER"}),
        description="what predictive maintenance saves against preventive and run-to-failure, "
        "and when the platform pays back, with intervals, from your costs",
    ),
    PageRule(
        "reports",
        "Daily reports",
        ":material/summarize:",
        frozenset({"MANAGER"}),
        description="each morning's report of the day before (HTML and PDF), its IPFS CIDs and "
        "the anchor that covers it",
    ),
    PageRule(
        "audit",
        "Audit trail",
        ":material/verified:",
        frozenset({"AUDITOR", "SUPPLIER", "MANAGER"}),
        description="anchored daily snapshots; verify a day or prove one record",
    ),
    PageRule(
        "track_record",
        "Track record",
        ":material/fact_check:",
        frozenset({"MANAGER", "AUDITOR", "SUPPLIER"}),
        description="how every model version's past predictions turned out: calibration, error "
        "by lead time, alert lead times and false alarms, recomputable from anchored records",
    ),
    PageRule(
        "roles",
        "Roles & grants",
        ":material/admin_panel_settings:",
        frozenset({"ADMIN", "MANAGER"}),
        description="who holds which role and which datasets are shared",
    ),
)
PAGES_BY_KEY = {p.key: p for p in PAGES}


class RoleSource(Protocol):
    """What :func:`read_access` needs of the chain (``AuditChain`` provides it)."""

    def roles_of(self, account: str) -> set[str]: ...

    def datasets_of(self, account: str) -> list[str]: ...

    def grant_expiry(self, dataset: str, account: str) -> dt.datetime | None: ...


@dataclass(frozen=True)
class Access:
    """What one account may see, as the chain said at ``checked_at``."""

    address: str
    roles: frozenset[str]
    datasets: frozenset[str]
    """Datasets shared with the account whose grant has not expired."""
    checked_at: dt.datetime

    def may_open(self, rule: PageRule) -> bool:
        if self.roles & rule.roles:
            return True
        prefix = rule.dataset_prefix
        return prefix is not None and any(d.startswith(prefix) for d in self.datasets)

    def granted(self, prefix: str) -> set[str]:
        """The suffixes of live grants under ``prefix`` (e.g. machine types for production)."""
        return {d[len(prefix) :] for d in self.datasets if d.startswith(prefix)}


class AccessDenied(Exception):
    """The signed-in account may not open this page (or its roles could not be read)."""


def read_access(chain: RoleSource, address: str, now: dt.datetime) -> Access:
    """Roles and live grants of ``address``, read from the contracts now.

    A grant counts while its expiry is in the future by the contract *and* by this server's
    clock (a local dev chain's latest block can be hours old).
    """
    roles = frozenset(chain.roles_of(address))
    datasets = set()
    for dataset in chain.datasets_of(address):
        expiry = chain.grant_expiry(dataset, address)
        if expiry is not None and expiry > now:
            datasets.add(dataset)
    return Access(address, roles, frozenset(datasets), now)


def allowed_pages(access: Access, pages: Iterable[PageRule] = PAGES) -> list[PageRule]:
    return [p for p in pages if access.may_open(p)]


def require(access: Access | None, key: str) -> Access:
    """The access if it may open page ``key``; otherwise :class:`AccessDenied` saying why."""
    rule = PAGES_BY_KEY[key]
    if access is None:
        raise AccessDenied("sign in first")
    if not access.may_open(rule):
        needed = " or ".join(sorted(rule.roles))
        if rule.dataset_prefix:
            needed += f", or a grant of a {rule.dataset_prefix}… dataset"
        raise AccessDenied(f"{access.address} may not open {rule.title}: it needs {needed}")
    return access


def production_scope(access: Access, machine_types: Iterable[str]) -> list[str]:
    """The machine types whose production figures ``access`` may see: all of them for the
    page's roles, otherwise only those shared by a live ``production/<type>`` grant."""
    types = set(machine_types)
    if access.roles & PAGES_BY_KEY["production"].roles:
        return sorted(types)
    return sorted(types & access.granted(PRODUCTION_DATASET_PREFIX))
