"""Plugin statuses: the code, the scheduler's exact reason strings, and a human explanation.

The code decides what preemption does (UnschedulableAndUnresolvable nodes are never tried), and
the reason strings are what the FailedScheduling event counts. Each reason carries a `detail`
sentence naming the taint, label or quantities involved, plus structured `evidence`.

A simulation gives a verdict for every node, thousands of them per question, and most are never
printed: `scan` reads only the counts, the funnel and the fixes. So a reason may carry its detail
as a `render` function of the node's name instead of text: the sentence is only formatted when
it is shown (`Reason.explain`), and one status serves every node of a class of like nodes (same
taints, same cordon, same free amounts), since the name is all that differs between them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any


class Code(enum.StrEnum):
    SUCCESS = "Success"
    UNSCHEDULABLE = "Unschedulable"
    UNRESOLVABLE = "UnschedulableAndUnresolvable"
    SKIP = "Skip"
    ERROR = "Error"


Render = Callable[[str], tuple[str, dict[str, Any]]]


class Reason:
    """One scheduler reason string, explained.

    `detail` and `evidence` are what is known without the node's name: fixes read `evidence`
    (the taint objects, the resource and its amounts), never a node's name. When the node's name
    belongs in the explanation, `render(name)` gives the (detail, evidence) pair shown for that
    node, formatted only when asked (`explain`).
    """

    __slots__ = ("_render", "detail", "evidence", "text")

    def __init__(
        self,
        text: str,
        detail: str = "",
        evidence: dict[str, Any] | None = None,
        render: Render | None = None,
    ) -> None:
        self.text = text
        self.detail = detail
        self.evidence: dict[str, Any] = {} if evidence is None else evidence
        self._render = render

    def explain(self, node: str) -> tuple[str, dict[str, Any]]:
        """The detail sentence and evidence as shown for `node` (the node this verdict is on)."""
        if self._render is None:
            return self.detail, self.evidence
        return self._render(node)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reason):
            return NotImplemented
        return (self.text, self.detail, self.evidence, self._render) == (
            other.text,
            other.detail,
            other.evidence,
            other._render,
        )

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Reason({self.text!r}, {self.detail!r}, {self.evidence!r})"


@dataclass(frozen=True)
class Status:
    """A plugin's non-success verdict for one node (or for all nodes, from PreFilter)."""

    plugin: str
    code: Code
    items: tuple[Reason, ...]
    stage: str = "Filter"  # or "PreFilter"

    @property
    def reasons(self) -> list[str]:
        return list(self.texts)

    @cached_property
    def texts(self) -> tuple[str, ...]:
        """The reason strings, once per status: a status is shared by many nodes, and the
        FailedScheduling message counts the reasons of every node."""
        return tuple(r.text for r in self.items)

    def message(self) -> str:
        """`Status.Message()`: the reasons joined with ", "."""
        return ", ".join(self.reasons)

    def failures(self, node: str = "") -> list[dict]:
        """One entry per reason, for `all_failures` in why-pending output; `node` is the node
        the verdict is on (a shared status names it only here)."""
        out = []
        for r in self.items:
            detail, evidence = r.explain(node)
            out.append(
                {
                    "plugin": self.plugin,
                    "stage": self.stage,
                    "reason": r.text,
                    "code": str(self.code),
                    "detail": detail or r.text,
                    "evidence": evidence,
                }
            )
        return out


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
