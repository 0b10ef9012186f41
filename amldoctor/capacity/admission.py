"""Why the API server refused a controller's pod: the text of a FailedCreate, classified.

A ReplicaSet, Job, StatefulSet or DaemonSet whose pod is refused at admission has no pod to look
at: the only trace is a `FailedCreate` event on the controller ("Error creating: pods "x" is
forbidden: ...") and, for ReplicaSets, a `ReplicaFailure` condition holding the same text. The
refusal's wording comes from the admission plugin that refused it (ResourceQuota, LimitRanger,
PodSecurity, ServiceAccount, a ValidatingAdmissionPolicy, a webhook), so the class and its
numbers can be read back from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

QUOTA = "quota"
QUOTA_UNSPECIFIED = "quota-needs-requests"
LIMIT_RANGE = "limit-range"
POD_SECURITY = "pod-security"
WEBHOOK = "webhook"
ADMISSION_POLICY = "admission-policy"
SERVICE_ACCOUNT = "service-account"
OTHER = "other"

# ResourceQuota admission: "exceeded quota: NAME, requested: r=v,r=v, used: r=v, limited: r=v".
_QUOTA_RE = re.compile(
    r"exceeded quota: (?P<name>[^,]+), requested: (?P<requested>.*?), "
    r"used: (?P<used>.*?), limited: (?P<limited>[^\s]*)"
)
# ResourceQuota admission when a quota tracks a resource the pod does not declare.
_QUOTA_UNSPECIFIED_RE = re.compile(r"failed quota: (?P<name>[^:]+): must specify (?P<what>.+)$")
# LimitRanger: "maximum memory usage per Container is 8Gi, but limit is 16Gi" (and minimum,
# ratio), several joined in brackets.
_LIMIT_RE = re.compile(
    r"(?P<bound>maximum|minimum) (?P<resource>\S+) usage per (?P<scope>Container|Pod|"
    r"PersistentVolumeClaim) is (?P<allowed>[^,\]]+), but (?P<field>limit|request) is "
    r"(?P<actual>[^,\]]+)"
)
_RATIO_RE = re.compile(
    r"(?P<resource>\S+) max limit to request ratio per (?P<scope>Container|Pod) is "
    r"(?P<allowed>[^,\]]+), but provided ratio is (?P<actual>[^,\]]+)"
)
# PodSecurity: violates PodSecurity "restricted:latest": check (detail), check (detail)
_PSA_RE = re.compile(r'violates PodSecurity "(?P<level>[a-z]+):(?P<version>[^"]+)": (?P<rest>.*)$')
_PSA_CHECK_RE = re.compile(r"(?P<check>[^,(]+?) \((?P<detail>[^()]*(?:\([^()]*\)[^()]*)*)\)")
_PSA_FIELD_RE = re.compile(r"must (?:set|not set|not include|use|only) (?P<field>.+)$")
_WEBHOOK_RE = re.compile(r'admission webhook "(?P<name>[^"]+)" denied the request:?\s*(?P<why>.*)$')
# ValidatingAdmissionPolicy (CEL, in the API server): "ValidatingAdmissionPolicy 'p' with
# binding 'b' denied request: message".
_POLICY_RE = re.compile(
    r"ValidatingAdmissionPolicy '(?P<name>[^']+)' with binding '(?P<binding>[^']+)' denied "
    r"request: (?P<why>.*)$"
)
_SA_RE = re.compile(
    r'error looking up service account (?P<ns>[^/\s]+)/(?P<sa>[^:\s]+): serviceaccount "[^"]+" '
    r"not found"
)
_POD_NAME_RE = re.compile(r'pods? "(?P<pod>[^"]+)" is forbidden: ')


@dataclass
class Refusal:
    """One admission refusal: its class, what it quotes, and the text it came from."""

    kind: str
    text: str
    details: dict = field(default_factory=dict)


def _pairs(text: str) -> dict[str, str]:
    """'requests.nvidia.com/gpu=4,limits.memory=8Gi' -> {name: value}."""
    out: dict[str, str] = {}
    for part in text.split(","):
        name, _, value = part.strip().partition("=")
        if name and value:
            out[name] = value
    return out


def refusal_text(message: str) -> str:
    """The admission error alone, without the controller's "Error creating:" preamble."""
    found = _POD_NAME_RE.search(message)
    return message[found.end() :] if found else message


def classify(message: str) -> Refusal:
    """Read a FailedCreate message or ReplicaFailure condition into a `Refusal`."""
    text = refusal_text(message.strip())
    if m := _QUOTA_RE.search(text):
        requested, used, limited = (_pairs(m.group(g)) for g in ("requested", "used", "limited"))
        resources = [
            {
                "resource": name,
                "requested": requested.get(name),
                "used": used.get(name),
                "limited": limited.get(name),
            }
            for name in sorted(limited or requested)
        ]
        return Refusal(QUOTA, text, {"quota": m.group("name").strip(), "resources": resources})
    if m := _QUOTA_UNSPECIFIED_RE.search(text):
        # "limits.memory for: a,b; requests.memory for: a" (newer releases), or
        # "limits.memory,requests.memory"
        must: set[str] = set()
        containers: set[str] = set()
        for part in m.group("what").split(";"):
            declared, _, names = part.partition(" for: ")
            must.update(r.strip() for r in declared.split(",") if r.strip())
            containers.update(n.strip() for n in names.split(",") if n.strip())
        return Refusal(
            QUOTA_UNSPECIFIED,
            text,
            {
                "quota": m.group("name").strip(),
                "must": sorted(must),
                "containers": sorted(containers),
            },
        )
    if m := _PSA_RE.search(text):
        checks = []
        for c in _PSA_CHECK_RE.finditer(m.group("rest")):
            detail = c.group("detail").strip()
            needed = _PSA_FIELD_RE.search(detail)
            checks.append(
                {
                    "check": c.group("check").strip(),
                    "detail": detail,
                    "set": needed.group("field") if needed else None,
                }
            )
        return Refusal(
            POD_SECURITY, text, {"level": m.group("level"), "version": m.group("version"),
                                 "checks": checks}
        )  # fmt: skip
    if m := _WEBHOOK_RE.search(text):
        return Refusal(WEBHOOK, text, {"webhook": m.group("name"), "reason": m.group("why")})
    if m := _POLICY_RE.search(text):
        return Refusal(
            ADMISSION_POLICY,
            text,
            {"policy": m.group("name"), "binding": m.group("binding"), "reason": m.group("why")},
        )
    if m := _SA_RE.search(text):
        return Refusal(SERVICE_ACCOUNT, text, {"namespace": m.group("ns"), "name": m.group("sa")})
    bounds = [
        {
            "bound": b.group("bound"),
            "resource": b.group("resource"),
            "scope": b.group("scope"),
            "field": b.group("field"),
            "allowed": b.group("allowed").strip(),
            "actual": b.group("actual").strip(),
        }
        for b in _LIMIT_RE.finditer(text)
    ] + [
        {
            "bound": "ratio",
            "resource": r.group("resource"),
            "scope": r.group("scope"),
            "field": "limit/request",
            "allowed": r.group("allowed").strip(),
            "actual": r.group("actual").strip(),
        }
        for r in _RATIO_RE.finditer(text)
    ]
    if bounds:
        return Refusal(LIMIT_RANGE, text, {"violations": bounds})
    return Refusal(OTHER, text, {})
