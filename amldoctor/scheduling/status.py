"""Plugin statuses: the code, the scheduler's exact reason strings, and a human explanation.

The code decides what preemption does (UnschedulableAndUnresolvable nodes are never tried), and
the reason strings are what the FailedScheduling event counts. Each reason carries a `detail`
sentence naming the taint, label or quantities involved, plus structured `evidence`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Code(enum.StrEnum):
    SUCCESS = "Success"
    UNSCHEDULABLE = "Unschedulable"
    UNRESOLVABLE = "UnschedulableAndUnresolvable"
    SKIP = "Skip"
    ERROR = "Error"


@dataclass(frozen=True)
class Reason:
    """One scheduler reason string, explained."""

    text: str
    detail: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Status:
    """A plugin's non-success verdict for one node (or for all nodes, from PreFilter)."""

    plugin: str
    code: Code
    items: tuple[Reason, ...]
    stage: str = "Filter"  # or "PreFilter"

    @property
    def reasons(self) -> list[str]:
        return [r.text for r in self.items]

    def message(self) -> str:
        """`Status.Message()`: the reasons joined with ", "."""
        return ", ".join(self.reasons)

    def failures(self) -> list[dict]:
        """One entry per reason, for `all_failures` in why-pending output."""
        return [
            {
                "plugin": self.plugin,
                "stage": self.stage,
                "reason": r.text,
                "code": str(self.code),
                "detail": r.detail or r.text,
                "evidence": r.evidence,
            }
            for r in self.items
        ]


def fail(plugin: str, code: Code, text: str, detail: str = "", **evidence: Any) -> Status:
    """A one-reason status, the common case."""
    return Status(plugin, code, (Reason(text, detail, dict(evidence)),))


@dataclass(frozen=True)
class PreFilterOutcome:
    """What a PreFilter returned: success, skip, a rejection, and/or a set of candidate nodes."""

    code: Code = Code.SUCCESS
    status: Status | None = None
    node_names: frozenset[str] | None = None

    @classmethod
    def skip(cls) -> PreFilterOutcome:
        return cls(Code.SKIP)

    @classmethod
    def reject(cls, status: Status) -> PreFilterOutcome:
        return cls(status.code, status=status)


SUCCESS = PreFilterOutcome()
