"""AMD110: pods bound to a node that does not exist.

A pod whose `spec.nodeName` names no node is past the scheduler (it only places pods without a
node) and before any kubelet (none is called that), so nothing will ever change it: AMD101 and
AMD103 skip it because it is "bound", and the node rules never see the node. This happens when
a node is deleted (scale-down, a VM replaced under a new name) while pods are still bound to it,
or when a manifest sets `nodeName` to a name that is mistyped or from another cluster.

The rule needs the complete node list: a scan whose nodes could not be read (a namespace-scoped
user) is told the rule was skipped and why, instead of accusing every bound pod.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.objects import TERMINAL_PHASES, meta
from amldoctor.k8s.owners import controller_ref
from amldoctor.k8s.timeutil import format_age, parse_time
from amldoctor.snapshot import Snapshot

HOSTNAME_LABEL = "kubernetes.io/hostname"


@rule("AMD110", "pod-on-missing-node", severity="error", needs=("Pod", "Node"))
def pod_on_missing_node(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports pods whose `spec.nodeName` names a node that does not exist in the cluster: pods
    still Pending, pods still recorded as Running on a node that was deleted, and pods stuck
    Terminating because no kubelet will ever confirm their deletion.

    ## Why is this bad?
    No scheduler looks at a pod that already names a node, and no kubelet runs a pod for a node
    that is not there, so the pod never starts (or, if it was Running, its containers are gone
    while its status says otherwise). `spec.nodeName` cannot be changed on an existing pod.
    Its controller sees a pod that exists and creates no replacement, so a Deployment stays
    short of replicas and a StatefulSet cannot recreate that ordinal. kube-controller-manager's
    pod garbage collector normally deletes such pods about a minute after the node is gone;
    a pod that stays means that collector is not running or cannot delete it.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: train-0}
    spec:
      nodeName: aks-gpupool-17403385-vmss000007   # no such node (scaled down, or a typo)
      containers:
      - {name: trainer, image: trainer:1}
    ```

    ## How to fix
    Delete the pod: its controller (ReplicaSet, Job, StatefulSet, ...) creates a replacement
    that the scheduler places on a node that exists (`kubectl delete pod NAME -n NS`; add
    `--force --grace-period=0` for a pod stuck Terminating, since no kubelet will confirm it).
    A pod without a controller must be created again without `spec.nodeName`; to pin it to a
    node, use a nodeSelector on `kubernetes.io/hostname` instead, which the scheduler checks.
    If the node is coming back under the same name, the pod resumes there.
    """
    snap = ctx.snapshot
    if snap.missing_for("Node") is not None:
        return  # a partial node list: a missing name proves nothing (the runner skips us too)
    names = _node_names(snap)
    for pod in ctx.pods():
        node = (pod.get("spec") or {}).get("nodeName")
        if not isinstance(node, str) or not node or node in names:
            continue
        if (pod.get("status") or {}).get("phase") in TERMINAL_PHASES:
            continue  # finished: nothing will run it again either way
        yield _finding(ctx, pod, node, names)


def _node_names(snap: Snapshot) -> set[str]:
    """Node names as `spec.nodeName` must spell them (a hostname label is not a name)."""
    return {str(meta(n).get("name")) for n in snap.nodes}


def _finding(ctx: Context, pod: dict, node: str, names: set[str]) -> Finding:
    m = meta(pod)
    name, namespace = m.get("name"), m.get("namespace") or "default"
    ref = f"{namespace}/{name}"
    phase = (pod.get("status") or {}).get("phase") or "Pending"
    similar = difflib.get_close_matches(node, sorted(names), n=3, cutoff=0.8)
    deleting = parse_time(m.get("deletionTimestamp"))
    if deleting is not None:
        since = format_age((ctx.snapshot.captured_at - deleting).total_seconds())
        state = (
            f"is being deleted (for {since}) but is bound to node {node}, which does not exist: "
            "no kubelet will confirm the deletion, so it stays Terminating"
        )
    elif phase == "Pending":
        state = (
            f"is assigned to node {node} (spec.nodeName), which does not exist: no scheduler "
            "will move it and no kubelet will run it, so it stays Pending for good"
        )
    else:
        state = (
            f"is recorded as {phase} on node {node}, which no longer exists: its containers run "
            "nowhere and its status will not change until the pod is deleted"
        )
    message = f"pod {ref} {state}"
    if similar:
        message += f" (nodes with similar names: {', '.join(similar)})"
    evidence = {
        "missing_node": node,
        "nodes_in_snapshot": len(ctx.snapshot.nodes),
        "similar_nodes": similar,
    }
    return ctx.finding(
        pod, message=message, evidence=evidence, remediation=_fix(pod, node, deleting is not None)
    )


def _fix(pod: dict, node: str, deleting: bool) -> str:
    """Delete through the controller when there is one; a bare pod must be created again."""
    m = meta(pod)
    name, namespace = m.get("name"), m.get("namespace") or "default"
    force = " --force --grace-period=0" if deleting else ""
    delete = f"kubectl delete pod {name} -n {namespace}{force}"
    owner = controller_ref(pod)
    if owner is not None:
        lines = [
            f"delete the pod; its {owner.get('kind')} {owner.get('name')} creates a replacement "
            f"that the scheduler places on a node that exists:",
            f"  {delete}",
        ]
    else:
        lines = [
            "the pod has no controller and spec.nodeName cannot be changed: save it, delete it "
            "and create it again without spec.nodeName (to pin a node, use a nodeSelector on "
            f"{HOSTNAME_LABEL}, which the scheduler checks):",
            f"  kubectl get pod {name} -n {namespace} -o yaml > {name}.yaml",
            f"  {delete}",
        ]
    lines.append(
        f"if node {node} is coming back under that name, the pod resumes there; "
        "kube-controller-manager's pod garbage collector normally deletes such pods about a "
        "minute after their node is gone: if it has not, check that it runs"
    )
    return "\n".join(lines)
