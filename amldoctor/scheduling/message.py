"""The FailedScheduling message: build it exactly as `FitError.Error()` does, and parse any
release's wording back into structured causes.

Building (`fit_error_message`): `0/N nodes are available:`, then either the PreFilter message
once, or a histogram of reason strings over the nodes (a node with two reasons counts twice;
nodes absent from the status map are counted with the absent status), rendered as
`"<count> <reason>"` items sorted byte-wise and joined with ", ", then ".", then the PostFilter
(preemption) message after one space. The event copy is cut at 1024 bytes.

Parsing (`parse_fit_error`): accepts every wording in docs/scheduler-semantics.md §2 and §6,
including legacy taint texts that carry the taint, the v1.25–v1.29 double period, the per-node
count of PreFilter rejections before v1.25, and `node is filtered out by the prefilter result`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from amldoctor.scheduling import names

NO_NODES = "no nodes available to schedule pods"
NOTE_LENGTH_LIMIT = 1024
PREEMPTION_PREFIX = "preemption: "
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
# DynamicResources' PostFilter (v1.34+, DRA on by default): no claims, or no state from its
# PreFilter.
DRA_NO_CLAIMS = "no new claims to deallocate"
DRA_STATE_NOT_FOUND = "not found"
NOT_ELIGIBLE_NEVER = "not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."


def fit_error_message(
    num_all_nodes: int,
    node_reasons: Mapping[str, Sequence[str]],
    *,
    absent_reasons: Sequence[str] = (),
    prefilter_msg: str = "",
    postfilter_msg: str = "",
    version: tuple[int, int] | None = None,
) -> str:
    """`FitError.Error()`; `version` selects the release's punctuation (None: current)."""
    if num_all_nodes == 0:
        return NO_NODES
    msg = f"0/{num_all_nodes} nodes are available:"
    prefilter_once = version is None or version >= (1, 25)
    if prefilter_msg and prefilter_once:
        msg += f" {prefilter_msg}."
    else:
        counts: dict[str, int] = {}
        for reasons in node_reasons.values():
            for r in reasons:
                counts[r] = counts.get(r, 0) + 1
        absent = num_all_nodes - len(node_reasons)
        if absent > 0:
            for r in absent_reasons:
                counts[r] = counts.get(r, 0) + absent
        items = sorted(f"{n} {r}" for r, n in counts.items())
        if items:
            msg += " " + ", ".join(items) + "."
    if postfilter_msg and (version is None or version >= (1, 24)):
        double_period = version is not None and (1, 25) <= version < (1, 30)
        msg += f" {postfilter_msg}." if double_period else f" {postfilter_msg}"
    return msg


def event_message(message: str) -> str:
    """`truncateMessage`: what the Event carries (the pod condition keeps the full text)."""
    raw = message.encode()
    if len(raw) <= NOTE_LENGTH_LIMIT:
        return message
    return raw[: NOTE_LENGTH_LIMIT - 4].decode(errors="ignore") + " ..."


# --- parsing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cause:
    """One histogram entry of a FailedScheduling message."""

    count: int
    reason: str  # exactly as printed
    plugin: str | None  # the plugin that emits it, when known
    normalized_reason: str  # the current (v1.35) wording of the same reason
    resource: str | None = None  # for Insufficient <resource>
    taint: str | None = None  # `key=value` from legacy taint texts

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "reason": self.reason,
            "plugin": self.plugin,
            "normalized_reason": self.normalized_reason,
            "resource": self.resource,
            "taint": self.taint,
        }


@dataclass(frozen=True)
class ParsedFitError:
    """A FailedScheduling message taken apart.

    `total_nodes` is N in "0/N" (0 for "no nodes available to schedule pods"), or None when the
    text is not a FitError at all (a scheduler error, another scheduler's wording); `recognized`
    then is False and `text` keeps the message.
    """

    total_nodes: int | None
    causes: list[Cause] = field(default_factory=list)
    prefilter_msg: str = ""
    prefilter_plugin: str | None = None
    postfilter_msg: str = ""
    preemption: ParsedFitError | None = None  # the dry-run histogram after "preemption: "
    preemption_note: str = ""  # "not eligible ..." or other PostFilter text
    truncated: bool = False
    recognized: bool = True
    text: str = ""

    def counts_by_reason(self) -> dict[str, int]:
        """Normalized reason -> node count (legacy taint entries merge, as in current releases)."""
        out: dict[str, int] = {}
        for c in self.causes:
            out[c.normalized_reason] = out.get(c.normalized_reason, 0) + c.count
        return out

    def to_dict(self) -> dict:
        return {
            "total_nodes": self.total_nodes,
            "causes": [c.to_dict() for c in self.causes],
            "prefilter_msg": self.prefilter_msg,
            "prefilter_plugin": self.prefilter_plugin,
            "postfilter_msg": self.postfilter_msg,
            "preemption": self.preemption.to_dict() if self.preemption else None,
            "preemption_note": self.preemption_note,
            "truncated": self.truncated,
            "recognized": self.recognized,
        }


_HEAD = re.compile(r"^0/(\d+) nodes are available:\s*")
_ITEM_SPLIT = re.compile(r", (?=\d+ )")
_COUNTED = re.compile(r"^(\d+) (.+)$", re.S)

_TAINT_PATTERNS = (
    re.compile(r"^node\(s\) had untolerated taint \{(.*?): (.*)\}$"),
    re.compile(r"^node\(s\) had taint \{(.*?): (.*)\}, that the pod didn't tolerate$"),
)
_EXACT: dict[str, tuple[str, str]] = {}


def _register(plugin: str, current: str, *older: str) -> None:
    for text in (current, *older):
        _EXACT[text] = (plugin, current)


_register(names.NODE_UNSCHEDULABLE, "node(s) were unschedulable")
_register(names.NODE_UNSCHEDULABLE, "node(s) had unknown conditions")
_register(names.NODE_NAME, "node(s) didn't match the requested node name")
_register(
    names.TAINT_TOLERATION,
    "node(s) had untolerated taint(s)",
    "node(s) had taints that the pod didn't tolerate",
)
_register(
    names.NODE_AFFINITY,
    "node(s) didn't match Pod's node affinity/selector",
    "node(s) didn't match node selector",
)
_register(names.NODE_AFFINITY, "node(s) didn't match scheduler-enforced node affinity")
_register(names.NODE_AFFINITY, "pod affinity terms conflict")
_register(names.NODE_PORTS, "node(s) didn't have free ports for the requested pod ports")
_register(names.NODE_RESOURCES_FIT, "Too many pods")
_register(
    names.NODE_RESOURCES_FIT,
    "Pod has a restartable init container and the SidecarContainers feature is disabled",
)
_register(names.VOLUME_RESTRICTIONS, "node(s) had no available disk")
_register(
    names.VOLUME_RESTRICTIONS,
    "node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode "
    "already in-use by another pod",
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode",
)
_register(names.NODE_VOLUME_LIMITS, "node(s) exceed max volume count")
_register(names.VOLUME_BINDING, "pod has unbound immediate PersistentVolumeClaims")
_register(names.VOLUME_BINDING, "node(s) didn't find available persistent volumes to bind")
_register(
    names.VOLUME_BINDING,
    "node(s) didn't match PersistentVolume's node affinity",
    "node(s) had volume node affinity conflict",
)
_register(names.VOLUME_BINDING, "node(s) did not have enough free storage")
_register(
    names.VOLUME_BINDING,
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)",
)
_register(names.VOLUME_ZONE, "node(s) had no available volume zone")
_register(names.POD_TOPOLOGY_SPREAD, "node(s) didn't match pod topology spread constraints")
_register(
    names.POD_TOPOLOGY_SPREAD,
    "node(s) didn't match pod topology spread constraints (missing required label)",
)
_register(names.INTER_POD_AFFINITY, "node(s) didn't match pod affinity rules")
_register(names.INTER_POD_AFFINITY, "node(s) didn't match pod anti-affinity rules")
_register(names.INTER_POD_AFFINITY, "node(s) didn't satisfy existing pods anti-affinity rules")
_register(names.INTER_POD_AFFINITY, "node(s) didn't match pod affinity/anti-affinity")
_register(names.DEFAULT_PREEMPTION, NOT_HELPFUL)
_register(names.DEFAULT_PREEMPTION, NO_VICTIMS)
_register(names.DYNAMIC_RESOURCES, "cannot allocate all claims")
_register(names.DYNAMIC_RESOURCES, "resourceclaim not available on the node")

_PLUGIN_SETS = re.compile(
    r"^node\(s\) didn't satisfy plugin(?:\(s\))? \[?([A-Za-z0-9 ]+?)\]?(?: simultaneously)?$"
)
_PVC = re.compile(r'^persistentvolumeclaim "([^"]*)" (not found|is being deleted)$')
PREFILTER_FILTERED_OUT = "node is filtered out by the prefilter result"


def classify_reason(reason: str) -> tuple[str | None, str, str | None, str | None]:
    """(plugin, current wording, resource, taint) for one reason string."""
    if reason in _EXACT:
        plugin, current = _EXACT[reason]
        return plugin, current, None, None
    if reason.startswith("Insufficient "):
        resource = reason[len("Insufficient ") :]
        return names.NODE_RESOURCES_FIT, reason, resource, None
    for pattern in _TAINT_PATTERNS:
        m = pattern.match(reason)
        if m:
            taint = f"{m.group(1)}={m.group(2)}" if m.group(2) else m.group(1)
            return names.TAINT_TOLERATION, "node(s) had untolerated taint(s)", None, taint
    if reason == PREFILTER_FILTERED_OUT:
        return None, reason, None, None
    m = _PLUGIN_SETS.match(reason)
    if m:
        plugins = m.group(1).split()
        return (plugins[0] if len(plugins) == 1 else None), reason, None, None
    if _PVC.match(reason):
        return names.VOLUME_BINDING, reason, None, None
    return None, reason, None, None


def _cause(count: int, reason: str) -> Cause:
    plugin, normalized, resource, taint = classify_reason(reason)
    return Cause(count, reason, plugin, normalized, resource, taint)


def _split_postfilter(body: str) -> tuple[str, str]:
    """Split `<reasons>. <postfilter>` at the first ". " that ends the reason block."""
    idx = body.find(". ")
    if idx < 0:
        return body.rstrip("."), ""
    return body[:idx], body[idx + 2 :]


def parse_fit_error(message: str) -> ParsedFitError:
    """Parse a FailedScheduling / PodScheduled message of any kube-scheduler release."""
    text = (message or "").strip()
    if text == NO_NODES:
        return ParsedFitError(total_nodes=0, text=text)
    head = _HEAD.match(text)
    if not head:
        return ParsedFitError(total_nodes=None, recognized=False, text=text)
    truncated = text.endswith(" ...")
    if truncated:
        text = text[:-4]
    total = int(head.group(1))
    block, post = _split_postfilter(text[head.end() :])
    causes: list[Cause] = []
    prefilter = ""
    items = [i for i in _ITEM_SPLIT.split(block) if i]
    if items and not _COUNTED.match(items[0]):
        prefilter = block
    else:
        for item in items:
            m = _COUNTED.match(item)
            if m:
                causes.append(_cause(int(m.group(1)), m.group(2)))
    preemption, note = _parse_postfilter(post)
    return ParsedFitError(
        total_nodes=total,
        causes=causes,
        prefilter_msg=prefilter,
        prefilter_plugin=classify_reason(prefilter.split(", ")[0])[0] if prefilter else None,
        postfilter_msg=post,
        preemption=preemption,
        preemption_note=note,
        truncated=truncated,
        text=message.strip(),
    )


def _parse_postfilter(post: str) -> tuple[ParsedFitError | None, str]:
    if not post:
        return None, ""
    idx = post.find(PREEMPTION_PREFIX)
    if idx < 0:
        return None, post
    other = post[:idx].rstrip(", ")
    rest = post[idx + len(PREEMPTION_PREFIX) :]
    if rest.endswith(".."):  # v1.25–v1.29 appended "." after a message ending in "."
        rest = rest[:-1]
    inner = parse_fit_error(rest)
    if not inner.recognized:
        return None, ", ".join(p for p in (other, rest) if p)
    return inner, other


def histogram(causes: Iterable[Cause]) -> dict[str, int]:
    """Exact reason -> count, as printed."""
    out: dict[str, int] = {}
    for c in causes:
        out[c.reason] = out.get(c.reason, 0) + c.count
    return out
