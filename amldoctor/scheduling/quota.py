"""ResourceQuota admission for one new pod: whether the API server refuses it, in its words.

Mirrors the quota plugin's order for a pod: the quota's `status.hard` names the resources it
constrains; the pod evaluator's resources among them must each carry a `status.used` (else
"status unknown for quota"), cpu and memory quotas require every container to state them
("must specify"), and the pod's usage added to `used` must stay within `hard` ("exceeded
quota"). Quantities are printed as the server prints them (`canonical.spelling`, canonical sums).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from amldoctor.k8s.canonical import format_nanos, quantity_format, spelling
from amldoctor.k8s.quantity import QuantityError, parse_nanos

NANO = 10**9
MILLI = NANO // 1000
# The quota resources the pod evaluator counts (upstream `podResources`), plus the prefixes it
# matches (hugepages, and extended resources in their `requests.` form).
POD_RESOURCES = frozenset(
    {
        "count/pods",
        "pods",
        *(f"{p}{r}" for p in ("", "requests.", "limits.") for r in ("cpu", "memory")),
        *(f"{p}ephemeral-storage" for p in ("", "requests.", "limits.")),
    }
)
# Quotas on these make every container state them (upstream's backward-compatibility rule).
MUST_SPECIFY = frozenset(f"{p}{r}" for p in ("", "requests.", "limits.") for r in ("cpu", "memory"))
STANDARD = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True)
class Amount:
    """A quota usage value: nano-units, the format it prints in, and its text when it is one
    unsummed value (the server then prints that value's own spelling)."""

    nanos: int
    fmt: str
    text: str | None

    def show(self) -> str:
        return self.text if self.text is not None else format_nanos(self.nanos, self.fmt)


def _amount(raw: object) -> Amount:
    nanos = parse_nanos(raw)
    whole, rest = divmod(abs(nanos), MILLI)  # defaulting rounds resource lists up to milli
    nanos = (whole + (1 if rest else 0)) * MILLI * (-1 if nanos < 0 else 1)
    return Amount(nanos, quantity_format(raw), spelling(raw))


def _add(total: Amount | None, more: Amount) -> Amount:
    """`Quantity.Add`: the format of the first non-zero term; a sum has no kept spelling."""
    if total is None:
        return more
    fmt = more.fmt if total.nanos == 0 else total.fmt
    return Amount(total.nanos + more.nanos, fmt, None)


def _add_list(into: dict[str, Amount], more: Mapping[str, Amount]) -> None:
    for name, value in more.items():
        into[name] = _add(into.get(name), value)


def _max_list(into: dict[str, Amount], more: Mapping[str, Amount]) -> None:
    for name, value in more.items():
        if name not in into or value.nanos > into[name].nanos:
            into[name] = value


def _container_list(c: Mapping, section: str) -> dict[str, Amount]:
    values = ((c.get("resources") or {}).get(section)) or {}
    return {str(name): _amount(raw) for name, raw in values.items()}


def pod_totals(spec: Mapping, section: str) -> dict[str, Amount]:
    """The pod's requests or limits as upstream's PodRequests/PodLimits aggregate them:
    containers add up, sidecars (restartable init containers) add to both, other init
    containers count at their peak, and the overhead adds on top."""
    total: dict[str, Amount] = {}
    for c in spec.get("containers") or []:
        _add_list(total, _container_list(c, section))
    sidecars: dict[str, Amount] = {}
    init_peak: dict[str, Amount] = {}
    for c in spec.get("initContainers") or []:
        own = _container_list(c, section)
        if c.get("restartPolicy") == "Always":
            _add_list(total, own)
            _add_list(sidecars, own)
            step = dict(sidecars)
        else:
            step = {}
            _add_list(step, own)
            _add_list(step, sidecars)
        _max_list(init_peak, step)
    _max_list(total, init_peak)
    for name, raw in (spec.get("overhead") or {}).items():
        total[name] = _add(total.get(name), _amount(raw))
    return total


def pod_usage(pod: Mapping) -> dict[str, Amount]:
    """What the pod adds to a quota (upstream `podComputeUsageHelper` plus `count/pods`)."""
    spec = pod.get("spec") or {}
    requests, limits = pod_totals(spec, "requests"), pod_totals(spec, "limits")
    one = Amount(NANO, "DecimalSI", "1")
    usage: dict[str, Amount] = {"pods": one, "count/pods": one}
    for name in STANDARD:
        if name in requests:
            usage[name] = usage[f"requests.{name}"] = requests[name]
        if name in limits:
            usage[f"limits.{name}"] = limits[name]
    for name, value in requests.items():
        if name.startswith("hugepages-"):
            usage[name] = usage[f"requests.{name}"] = value
        elif _is_extended(name):
            usage[f"requests.{name}"] = value
    return usage


def _is_extended(name: str) -> bool:
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def matching_resources(hard: Mapping[str, object]) -> list[str]:
    """The quota's resources the pod evaluator constrains, sorted."""
    out = []
    for name in hard:
        if (
            name in POD_RESOURCES
            or name.startswith(("hugepages-", "requests.hugepages-"))
            or (name.startswith("requests.") and _is_extended(name.removeprefix("requests.")))
        ):
            out.append(str(name))
    return sorted(out)


def _missing_per_container(pod: Mapping, required: set[str]) -> str | None:
    """`must specify limits.cpu for: a,b; requests.memory for: a` (sorted), or None."""
    spec = pod.get("spec") or {}
    missing: dict[str, set[str]] = {}
    for kind in ("containers", "initContainers"):
        for c in spec.get(kind) or []:
            have = set(pod_usage({"spec": {"containers": [c]}}))
            for name in required - have:
                missing.setdefault(name, set()).add(str(c.get("name")))
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def quota_refusal(quota: Mapping, pod: Mapping) -> str | None:
    """The API server's refusal text for creating `pod` under `quota`, or None if admitted.

    Scopes and scope selectors are not evaluated: a scoped quota is treated as matching.
    """
    status = quota.get("status") or {}
    hard = status.get("hard") or (quota.get("spec") or {}).get("hard") or {}
    used = status.get("used") or {}
    name = (quota.get("metadata") or {}).get("name")
    pod_name = (pod.get("metadata") or {}).get("name")
    forbidden = f'pods "{pod_name}" is forbidden: '
    restricted = matching_resources(hard)
    if not restricted:
        return None
    try:
        must = _missing_per_container(pod, set(restricted) & MUST_SPECIFY)
        if must:
            return f"{forbidden}failed quota: {name}: {must}"
        if any(r not in used for r in restricted):
            return f"{forbidden}status unknown for quota: {name}, resources: {','.join(restricted)}"
        usage = pod_usage(pod)
        exceeded = [
            r
            for r in restricted
            if r in usage and parse_nanos(used[r]) + usage[r].nanos > parse_nanos(hard[r])
        ]
    except QuantityError:
        return None  # a value the API server would have rejected earlier: nothing to say here
    if not exceeded:
        return None
    return (
        f"{forbidden}exceeded quota: {name}, "
        f"requested: {','.join(f'{r}={usage[r].show()}' for r in exceeded)}, "
        f"used: {','.join(f'{r}={spelling(used[r])}' for r in exceeded)}, "
        f"limited: {','.join(f'{r}={spelling(hard[r])}' for r in exceeded)}"
    )
