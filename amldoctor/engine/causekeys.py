"""Cause keys: which findings are the same cause, derived per rule from a finding's evidence.

Two pods Pending for one missing toleration, two Deployments OOMKilled at limits they set
themselves, six images crash-looping with exit 1 and no log: each is one cause to the engineer,
whatever the pods, images, limits, nodes and times. A rule's key keeps the values that say *why*
(the scheduler's reasons and funnel, how a limit was set, the exit code and log signature, the
missing Secret) and drops or replaces by placeholders those that say *which* or *when*
(VOLATILE_KEYS for every rule; INCIDENTAL per rule; the object's own names; node instances, hex
ids, timestamps, IPs; numbers inside logs and API errors). `tests/unit/test_cause_keys.py`
checks every rule both ways on generated variants. Pure functions over one finding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from amldoctor.engine.report import Finding

# Evidence keys that describe *which* object or *when*, never *why*: two pods Pending for the
# same reason differ in these, so they never take part in a cause key.
VOLATILE_KEYS = frozenset(
    {
        "age",
        "age_seconds",
        "closest_nodes",
        "count",
        "event_count",
        "failures",
        "finished_at",
        "first_seen",
        "last_seen",
        "last_restart",
        "last_updated",
        "node",
        "node_kernel_oom_kills",
        "pending_pods",
        "pods",
        "requested_by",
        "restart_count",
        "restarts",
        "run_id",
        "since",
        "source",
        "started_at",
        "usage_bytes",
        "used_by",
        "withdrawn",
    }
)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?")
_IPV4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_DURATION = re.compile(r"\b\d+(\.\d+)?[smhd]\b( before capture)?")
_LEADING_COUNT = re.compile(r"(^|→ )\d+ ")
# AKS node names: the pool and its scale set say which nodes, the instance suffix only which one.
_AKS_NODE = re.compile(r"\b(aks-[a-z0-9]+-\d{8}-vmss)[0-9a-z]{6}\b")
# Job ids, run UUIDs and hash-named containers (`3f2a9c1e-execution-wrapper`): per run, not why.
_HEX_ID = re.compile(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b")
# A number or quantity standing alone (`103Mi`, `2.00`, `line 12`), not a digit inside a word
# (`python3`, `V2`): that is a name, and a different name is a different cause.
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:[KMGTPE]i?|m)?\b")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_GO_DURATION = re.compile(r"\b(?:\d+(?:\.\d+)?(?:ms|h|m|s))+\b")

# Evidence fields, per rule, that say which container, image, size or node rather than why: the
# same cause in two workloads differs in them (checked field by field in test_cause_keys.py). A
# dotted path names a field inside a mapping. Fields not listed here (and not VOLATILE_KEYS) are
# the cause: a different value is a different group.
INCIDENTAL: dict[str, frozenset[str]] = {
    code: frozenset(fields.split())
    for code, fields in {
        "AMD104": "pods_wanted pods_existing",
        "AMD201": "container memory_limit memory_limit_bytes memory_request suggested_limit"
        " suggestion_basis",
        "AMD202": "container memory_request memory_limit unreserved_bytes",
        "AMD203": "container memory_request",
        "AMD204": "threshold available containers_over_request",
        "AMD205": "volume size_limit container memory_limit",
        "AMD206": "container",
        "AMD301": "container last_failure probe_settings.target",
        "AMD302": "container kills probe_settings.target",
        "AMD303": "container ran_seconds probe_settings.target",
        "AMD304": "container declared_ports",
        "AMD401": "container image",
        "AMD402": "container image tag",
        "AMD403": "container referenced_by",
        "AMD404": "container",
        "AMD405": "container image command",
        "AMD406": "container image",
        "AMD407": "container image",
        "AMD501": "volume events",
        "AMD502": "volume event_message",
        "AMD505": "nodes",
        "AMD601": "pool",
        "AMD604": "gpus",
        "AMD606": "pool device_plugin_pod",
        "AMD607": "gpu_labelled_nodes",
        "AMD702": "nodes_total nodes_matching matching_node_states",
        "AMD703": "closest_node nodes_checked",
        "AMD704": "selected_ready_nodes",
        "AMD707": "untolerated_taints",
        "AMD708": "container",
    }.items()
}
# Free text that quotes a log or an API error: its shape is the cause (the log signature), the
# numbers in it (line numbers, sizes, addresses, durations) are not.
SIGNATURE_KEYS = frozenset(
    {"termination_message", "status_message", "event_message", "runtime_message", "message"}
)


def cause_text(finding: Finding) -> str:
    """The cause of one finding as canonical JSON: equal texts, same cause (same rule)."""
    derive = CAUSE_KEYS.get(finding.rule, evidence_cause)
    return json.dumps(_placeholders(derive(finding), finding), sort_keys=True, default=str)


def evidence_cause(finding: Finding) -> Any:
    """The default cause: the evidence without the keys that only say which object or when,
    without the rule's incidental fields, and with logs and API errors reduced to their shape."""
    ev = strip_volatile(finding.evidence)
    if isinstance(ev, dict):
        ev = _without(ev, INCIDENTAL.get(finding.rule, frozenset()))
        ev = {k: signature(v) if k in SIGNATURE_KEYS else v for k, v in ev.items()}
    return ev


def signature(value: Any) -> Any:
    """A log line or API error reduced to its shape: numbers and durations taken out."""
    if not isinstance(value, str):
        return value
    value = _ADDRESS.sub("<address>", _GO_DURATION.sub("<duration>", value))
    return _NUMBER.sub("N", value)


def _without(ev: dict, paths: frozenset[str]) -> dict:
    """`ev` without the (possibly dotted) paths."""
    out = {k: v for k, v in ev.items() if k not in paths}
    for path in paths:
        head, _, rest = path.partition(".")
        if rest and isinstance(out.get(head), dict):
            out[head] = _without(out[head], frozenset({rest}))
    return out


def lookup(ev: Any, path: str) -> Any:
    """The value at a dotted path of the evidence, or None."""
    for part in path.split("."):
        if not isinstance(ev, dict):
            return None
        ev = ev.get(part)
    return ev


def scheduling_cause(finding: Finding) -> Any:
    """Pending pods: the same scheduler reasons over the same request shape.

    The node counts in a FailedScheduling message move as the cluster changes between two pods'
    attempts; the reasons and what the pod asks for (the funnel's last step) do not.
    """
    ev = finding.evidence
    causes = ev.get("causes")
    reasons = (
        sorted({str(c.get("reason")) for c in causes if isinstance(c, dict)})
        if isinstance(causes, list)
        else None
    )
    funnel = ev.get("funnel")
    funnel = _LEADING_COUNT.sub(r"\1N ", funnel) if isinstance(funnel, str) else None
    if not reasons and not funnel:
        return evidence_cause(finding)
    return {"reasons": reasons, "funnel": funnel, "gates": ev.get("scheduling_gates")}


def message_cause(finding: Finding) -> Any:
    """AML workload rules summarise a whole job in their message; its evidence is a full dump."""
    return _DURATION.sub("<age>", finding.message)


def probe_cause(finding: Finding) -> Any:
    """Probe failures: same probe, same settings, same kinds of failure; not how many, nor the
    port or path each workload probes."""
    ev = evidence_cause(finding)
    for key in ("causes", "failure_causes"):
        if isinstance(ev.get(key), dict):
            ev[key] = sorted(ev[key])
    return ev


def claim_cause(finding: Finding) -> Any:
    """A Pending claim: the class or binding problem, not the size each claim asks for."""
    ev = evidence_cause(finding)
    return {k: v for k, v in ev.items() if k not in ("request", "capacity")}


def quota_cause(finding: Finding) -> Any:
    """A used-up ResourceQuota: which resources are used up, not by how much."""
    ev = evidence_cause(finding)
    lines = ev.get("lines")
    if isinstance(lines, list):
        ev["lines"] = sorted(str(x.get("resource")) for x in lines if isinstance(x, dict))
    return ev


def pull_cause(finding: Finding) -> Any:
    """An image pull: the registry, repository and kind of failure, across tags of one image."""
    ev = evidence_cause(finding)
    message, image = ev.get("registry_message"), finding.evidence.get("image")
    tag = finding.evidence.get("tag")
    if isinstance(message, str):
        for text, mark in ((image, "<image>"), (tag, "<tag>")):
            if isinstance(text, str) and text:
                message = message.replace(text, mark)
        ev["registry_message"] = message
    return ev


CAUSE_KEYS: dict[str, Callable[[Finding], Any]] = {
    "AMD101": scheduling_cause,
    "AMD105": quota_cause,
    "AMD402": pull_cause,
    "AMD503": claim_cause,
    "AMD301": probe_cause,
    "AMD302": probe_cause,
    "AMD303": probe_cause,
    **{code: message_cause for code in ("AMD710", "AMD711", "AMD713", "AMD730", "AMD731")},
}


def strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


def replace_token(text: str, name: str, mark: str) -> str:
    """`text` with `name` replaced by `mark` where it starts a token: `missing-pvc-9tkz` in
    `missing-pvc-9tkz-data`, but not pod `notebook` inside image `scipy-notebook`, which names
    the image, not the pod.

    The regex `(?<![\\w.-])NAME(?![A-Za-z0-9])`, without compiling one per name: a scan groups
    hundreds of findings, each with its own object names, and compiling a pattern for each
    cost about 0.05 s of a 0.65 s namespace scan. `str.isalnum() or "_"` is what `\\w` matches.
    """
    found = text.find(name)
    if found < 0:
        return text
    out: list[str] = []
    start, size = 0, len(name)
    while found >= 0:
        before = text[found - 1] if found else ""
        after = text[found + size] if found + size < len(text) else ""
        token_start = not before or not (before.isalnum() or before in "_.-")
        token_end = not after or not (after.isascii() and after.isalnum())
        if token_start and token_end:
            out.append(text[start:found])
            out.append(mark)
            start = found + size
            found = text.find(name, start)
        else:
            found = text.find(name, found + 1)
    out.append(text[start:])
    return "".join(out)


def _placeholders(value: Any, finding: Finding) -> Any:
    """Replace the object's own names (and times, IPs) in every string by placeholders.

    `missing-pvc-9tkz-data` mounted by Job `missing-pvc-9tkz` and `missing-pvc-j9nk-data` mounted by
    `missing-pvc-j9nk` are one cause: each Job's template mounts a claim named after the Job.
    """
    names = [(finding.object.name, "<object>")]
    if finding.owner is not None:
        names.append((finding.owner.name, "<owner>"))
    if finding.object.namespace:
        names.append((finding.object.namespace, "<namespace>"))
    ident = finding.evidence.get("id")
    if isinstance(ident, str) and ident:
        names.append((ident, "<id>"))
    names.sort(key=lambda item: -len(item[0]))

    names = [(name, mark) for name, mark in names if name]

    def fix(text: str) -> str:
        for name, mark in names:
            text = replace_token(text, name, mark)  # returns at once when name is absent
        text = _AKS_NODE.sub(r"\1<instance>", _HEX_ID.sub("<hex>", text))
        return _IPV4.sub("<ip>", _TIMESTAMP.sub("<time>", text))

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return fix(v)
        if isinstance(v, dict):
            return {fix(str(k)): walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)
