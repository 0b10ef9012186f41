"""AMD104-AMD105: pods that were never created, and quotas that will refuse the next one.

A workload refused at admission has no pod for the pod rules to look at; these rules read the
controller's side (FailedCreate events, ReplicaFailure conditions) and the namespace's
ResourceQuotas. The classification lives in `amldoctor.capacity`.
"""

from __future__ import annotations

from collections.abc import Iterator

from amldoctor.capacity import admission
from amldoctor.capacity.controllers import CONTROLLER_KINDS, CreateFailure, create_failures
from amldoctor.capacity.quota import exhausted_lines
from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.objects import meta
from amldoctor.k8s.owners import owner_chain
from amldoctor.k8s.timeutil import format_time
from amldoctor.snapshot import Snapshot


def _name(obj: dict) -> str:
    m = meta(obj)
    return f"{obj.get('kind')} {m.get('namespace')}/{m.get('name')}"


def _owned_by(snap: Snapshot, obj: dict) -> str:
    chain = owner_chain(snap, obj)
    return f" (owned by {chain[-1].get('kind')} {meta(chain[-1]).get('name')})" if chain else ""


def _quota_fix(snap: Snapshot, ns: str, details: dict) -> tuple[str, str]:
    quota = details["quota"]
    parts, fixes = [], []
    for r in details["resources"]:
        parts.append(
            f"{r['resource']} requested {r['requested']}, used {r['used']}, limited {r['limited']}"
        )
    fixes.append(
        f"free quota in namespace {ns} (finish or delete workloads that hold "
        f"{', '.join(r['resource'] for r in details['resources'])}: "
        f"`kubectl describe resourcequota {quota} -n {ns}`), lower the workload's request to fit "
        "what is left, or ask a cluster admin to raise "
        + ", ".join(f"spec.hard[{r['resource']}]" for r in details["resources"])
        + f" of ResourceQuota {ns}/{quota}"
    )
    return (
        f"ResourceQuota {ns}/{quota} refuses it: " + "; ".join(parts),
        "\n".join(fixes),
    )


def _limit_fix(snap: Snapshot, ns: str, details: dict) -> tuple[str, str]:
    ranges = [meta(lr).get("name") for lr in snap.of_kind("LimitRange", ns)]
    where = (
        f"LimitRange {ns}/{ranges[0]}" if len(ranges) == 1 else f"a LimitRange of namespace {ns}"
    )
    parts = []
    fixes = []
    for v in details["violations"]:
        if v["bound"] == "ratio":
            parts.append(
                f"{v['resource']} limit/request ratio per {v['scope']} is at most {v['allowed']}, "
                f"the pod's is {v['actual']}"
            )
            fixes.append(f"bring the {v['resource']} limit within {v['allowed']}x the request")
            continue
        parts.append(
            f"{v['bound']} {v['resource']} per {v['scope']} is {v['allowed']}, the pod's "
            f"{v['field']} is {v['actual']}"
        )
        side = "at most" if v["bound"] == "maximum" else "at least"
        fixes.append(
            f"set resources.{v['field']}s.{v['resource']} to {side} {v['allowed']} in the pod "
            f"template (or ask a cluster admin to change {where})"
        )
    return f"{where} refuses it: " + "; ".join(parts), "\n".join(fixes)


def _psa_fix(snap: Snapshot, ns: str, details: dict) -> tuple[str, str]:
    checks = details["checks"]
    fields = [c["set"] for c in checks if c["set"]]
    head = (
        f'Pod Security admission refuses it at level "{details["level"]}" '
        f"(namespace {ns} label pod-security.kubernetes.io/enforce): "
        + "; ".join(f"{c['check']} ({c['detail']})" for c in checks)
    )
    fix = "set in the pod template: " + "; ".join(fields) if fields else ""
    fix += (
        f"\nor, if the workload needs it, run it in a namespace whose "
        f"pod-security.kubernetes.io/enforce level allows it (not {details['level']})"
    )
    return head, fix.strip()


def _explain(snap: Snapshot, failure: CreateFailure) -> tuple[str, str]:
    ns = meta(failure.controller).get("namespace") or "default"
    r = failure.refusal
    if r.kind == admission.QUOTA:
        return _quota_fix(snap, ns, r.details)
    if r.kind == admission.QUOTA_UNSPECIFIED:
        must = ", ".join(r.details["must"])
        who = ", ".join(r.details.get("containers") or []) or "every container"
        return (
            f"ResourceQuota {ns}/{r.details['quota']} requires {must} on every container, and "
            f"{who} declare(s) none",
            f"set {must} on container(s) {who} of the pod template (or ask a cluster admin for a "
            f"LimitRange with defaults in namespace {ns})",
        )
    if r.kind == admission.LIMIT_RANGE:
        return _limit_fix(snap, ns, r.details)
    if r.kind == admission.POD_SECURITY:
        return _psa_fix(snap, ns, r.details)
    if r.kind == admission.WEBHOOK:
        hook = r.details["webhook"]
        return (
            f'admission webhook "{hook}" denies it: {r.details["reason"]}',
            f"change what the webhook's message names, or ask the owner of webhook {hook} "
            "(`kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations "
            f"-o yaml | grep -n {hook}`)",
        )
    if r.kind == admission.ADMISSION_POLICY:
        policy = r.details["policy"]
        return (
            f"ValidatingAdmissionPolicy {policy} (binding {r.details['binding']}) denies it: "
            f"{r.details['reason']}",
            f"change the pod template as the policy's message asks, or ask a cluster admin about "
            f"policy {policy} (`kubectl get validatingadmissionpolicy {policy} -o yaml`)",
        )
    if r.kind == admission.SERVICE_ACCOUNT:
        sa = r.details["name"]
        return (
            f"its ServiceAccount {r.details['namespace']}/{sa} does not exist",
            f"create it (`kubectl create serviceaccount {sa} -n {r.details['namespace']}`) or "
            "correct spec.template.spec.serviceAccountName",
        )
    return f"the API server refuses it: {r.text}", "fix what the API server's message names"


@rule("AMD104", "pods-not-created", severity="error", needs=())
def pods_not_created(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports ReplicaSets, Jobs, StatefulSets and DaemonSets that want more pods than they have
    because the API server refuses to create them: an exhausted ResourceQuota (with the
    requested, used and limited amounts and the quota's name), a LimitRange maximum or minimum,
    a Pod Security level (and which securityContext fields to set), a ValidatingAdmissionPolicy
    or admission webhook's denial, or a missing ServiceAccount. It reads the controller's newest
    `FailedCreate` event (when no pod was created since) or its `ReplicaFailure` condition.

    ## Why is this bad?
    There is no pod: `kubectl get pods` shows nothing, no pod rule fires, and the Job or
    Deployment just sits there. Only an event on the controller, which expires after an hour,
    says why.

    ## Example
    ```text
    Warning FailedCreate job/train-gpu  Error creating: pods "train-gpu-x7k2p" is forbidden:
      exceeded quota: gpu-quota, requested: requests.nvidia.com/gpu=4,
      used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4
    ```

    ## How to fix
    Follow the remediation for the class: free or raise the quota, fit the request to the
    LimitRange, set the securityContext fields Pod Security asks for, satisfy the webhook, or
    create the ServiceAccount.
    """
    snap = ctx.snapshot
    objects = [o for kind in CONTROLLER_KINDS for o in ctx.objects(kind)]
    for failure in create_failures(snap, objects):
        obj = failure.controller
        head, fix = _explain(snap, failure)
        have = (
            f" ({failure.existing} of {failure.wanted} pods exist)"
            if failure.wanted is not None and failure.existing is not None
            else ""
        )
        seen = (
            f"{failure.count} FailedCreate event(s), last {format_time(failure.last_seen)}"
            if failure.source == "event"
            else "ReplicaFailure condition"
        )
        evidence = {
            "class": failure.refusal.kind,
            "refusal": failure.refusal.text,
            "source": seen,
            **failure.refusal.details,
        }
        if failure.wanted is not None:
            evidence["pods_wanted"] = failure.wanted
            evidence["pods_existing"] = failure.existing
        yield ctx.finding(
            obj,
            message=f"{_name(obj)}{_owned_by(snap, obj)} cannot create its pods{have}: {head}",
            evidence=evidence,
            remediation=fix,
        )


@rule("AMD105", "resource-quota-exhausted", severity="warning", needs=("ResourceQuota",))
def resource_quota_exhausted(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports ResourceQuotas whose GPU, memory, CPU or pod-count usage has reached the hard
    limit, quoting used and hard for each such line.

    ## Why is this bad?
    The quota admission plugin refuses every new pod that asks for any of that resource: the
    next training job, the next replica of an endpoint, a restarted Job pod. The workload then
    has no pod at all, only a FailedCreate event on its controller.

    ## Example
    ```yaml
    kind: ResourceQuota
    metadata: {name: gpu-quota, namespace: ml}
    status:
      hard: {requests.nvidia.com/gpu: "4"}
      used: {requests.nvidia.com/gpu: "4"}
    ```

    ## How to fix
    Free capacity (finish or delete workloads holding it), or ask a cluster admin to raise
    `spec.hard` of the quota. `kubectl describe resourcequota NAME -n NS` shows the usage.
    """
    for quota in ctx.objects("ResourceQuota"):
        lines = exhausted_lines(quota)
        if not lines:
            continue
        m = meta(quota)
        ns, name = m.get("namespace"), m.get("name")
        used = "; ".join(f"{line.resource} used {line.used} of {line.hard}" for line in lines)
        yield ctx.finding(
            quota,
            message=(
                f"ResourceQuota {ns}/{name} is used up: {used}; the next pod asking for "
                f"{', '.join(line.resource for line in lines)} in namespace {ns} will be refused"
            ),
            evidence={
                "quota": name,
                "lines": [
                    {"resource": line.resource, "used": line.used, "hard": line.hard}
                    for line in lines
                ],
            },
            remediation=(
                f"free {', '.join(line.resource for line in lines)} in namespace {ns} "
                f"(`kubectl describe resourcequota {name} -n {ns}`), or ask a cluster admin to "
                "raise " + ", ".join(f"spec.hard[{line.resource}]" for line in lines)
            ),
        )
