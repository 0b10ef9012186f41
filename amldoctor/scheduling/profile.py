"""Which scheduler amldoctor imitates: release-dependent texts and codes, gates and plugin args.

The default is the newest behaviour (v1.34+/v1.35 texts) when the server version is unknown.
Release differences that matter (docs/scheduler-semantics.md §2 and §7):

- taint reason: `node(s) had untolerated taint(s)` from v1.34 (backport) / v1.35; v1.25–v1.33
  `node(s) had untolerated taint {k: v}`; before that `node(s) had taint {k: v}, that the pod
  didn't tolerate`. The exact 1.34 patch that took the backport is not known: all of 1.34 uses
  the new text.
- PV node affinity reason: `node(s) had volume node affinity conflict` before v1.33.
- NodeResourcesFit returns UnschedulableAndUnresolvable for a too-small node only from v1.34.
- The `preemption:` suffix exists from v1.24; v1.25–v1.29 append it with a double period.
- From v1.34 the DynamicResources PostFilter runs before preemption: `no new claims to
  deallocate, preemption: ...`, or `not found` (and no preemption) after a PreFilter rejection.
- PreFilter rejections are printed once (PreFilterMsg) from v1.25; before, counted per node.
- Nodes outside a PreFilterResult read `node(s) didn't satisfy plugin(s) [X]` from v1.31,
  `node is filtered out by the prefilter result` before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_VERSION = re.compile(r"v?(\d+)\.(\d+)")


def parse_version(text: str | None) -> tuple[int, int] | None:
    """ "v1.35.2" / "1.29" / "v1.30.4-gke.100" -> (1, 35); None when absent or unreadable."""
    if not text:
        return None
    m = _VERSION.match(str(text).strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


@dataclass(frozen=True)
class Features:
    """Feature gates that change what the filters do; defaults are the v1.34+ defaults."""

    sidecar_containers: bool = True  # GA in 1.33; on by default since 1.29
    pod_level_resources: bool = True  # beta, on by default since 1.34
    taint_comparison_operators: bool = False  # alpha in 1.35
    dynamic_resources: bool = True  # DynamicResourceAllocation: GA and on by default from 1.34
    # DRAExtendedResource (alpha in 1.34, off by default): extended resources a DeviceClass maps
    # are left by NodeResourcesFit to DynamicResources on nodes that do not offer them.
    dra_extended_resource: bool = False

    @classmethod
    def for_version(cls, version: tuple[int, int] | None) -> Features:
        if version is None:
            return cls()
        return cls(
            sidecar_containers=version >= (1, 29),
            pod_level_resources=version >= (1, 34),
            dynamic_resources=version >= (1, 34),
        )


@dataclass(frozen=True)
class Profile:
    """The scheduler being imitated."""

    version: tuple[int, int] | None = None
    features: Features = field(default_factory=Features)
    # NodeResourcesFitArgs
    ignored_resources: frozenset[str] = frozenset()
    ignored_resource_groups: frozenset[str] = frozenset()
    # NodeAffinityArgs.addedAffinity (a NodeAffinity object with requiredDuring…)
    added_affinity: dict[str, Any] | None = None

    @classmethod
    def for_server(cls, server_version: str | None, **kwargs: Any) -> Profile:
        version = parse_version(server_version)
        return cls(version=version, features=Features.for_version(version), **kwargs)

    def at_least(self, major: int, minor: int) -> bool:
        """Unknown version counts as the newest."""
        return self.version is None or self.version >= (major, minor)

    @property
    def version_text(self) -> str:
        return (
            f"v{self.version[0]}.{self.version[1]}" if self.version else "newest (version unknown)"
        )
