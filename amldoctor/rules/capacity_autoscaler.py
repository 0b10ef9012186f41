"""AMD106-AMD109: why the cluster autoscaler adds no node for a Pending pod.

Read from the autoscaler's status ConfigMap (`kube-system/cluster-autoscaler-status`, YAML or
the older plain text) and its NotTriggerScaleUp / TriggeredScaleUp events on pods, with node
groups mapped to AKS pools; parsing lives in `amldoctor.capacity`.
"""

from __future__ import annotations

from collections.abc import Iterator

from amldoctor.capacity import autoscaler
from amldoctor.capacity.azure import quota_error
from amldoctor.capacity.newnode import new_node_answers
from amldoctor.capacity.pools import aks_cluster, group_pool
from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.objects import meta
from amldoctor.k8s.timeutil import format_age, format_time
from amldoctor.rules.scheduling import is_waiting_for_node

NODEPOOL_UPDATE = (
    "az aks nodepool update --resource-group {rg} --cluster-name {cluster} --name {pool} "
    "--update-cluster-autoscaler --min-count {min} --max-count {max}"
)


def _nodepool_update(ctx: Context, pool: str, min_size: object, max_size: object) -> str:
    rg, cluster = aks_cluster(ctx.snapshot) or ("RG", "CLUSTER")
    return NODEPOOL_UPDATE.format(rg=rg, cluster=cluster, pool=pool, min=min_size, max=max_size)


def _pending(ctx: Context) -> list[dict]:
    return [p for p in ctx.pods() if is_waiting_for_node(p)]


def _pool_label(ctx: Context, group: str) -> str:
    pool = group_pool(ctx.snapshot, group)
    return pool or group


@rule(
    "AMD106",
    "autoscaler-pool-at-max",
    severity="error",
    needs=("Pod",),
    explains=("AMD101",),
)
def autoscaler_pool_at_max(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports Pending pods for which the cluster autoscaler will not add a node because the node
    pool that could hold them is at its maximum size: the autoscaler's NotTriggerScaleUp event
    says "max node group size reached", or its status ConfigMap shows the pool's target at
    `maxSize` while a new node of that pool would fit the pod (simulated from an existing node
    of the pool).

    ## Why is this bad?
    The pod waits until another workload on the pool finishes. Users see only "Insufficient
    nvidia.com/gpu" from the scheduler and assume the autoscaler will fix it.

    ## Example
    ```text
    Normal NotTriggerScaleUp pod/train-0  pod didn't trigger scale-up: 1 max node group size
      reached, 2 node(s) didn't match Pod's node affinity/selector
    ```

    ## How to fix
    Raise the pool's maximum: `az aks nodepool update --update-cluster-autoscaler --min-count
    MIN --max-count MAX` (the VM family's regional quota must cover the extra nodes), or wait
    for running work on the pool to finish.
    """
    snap = ctx.snapshot
    status = autoscaler.read_status(snap)
    for pod in _pending(ctx):
        said = autoscaler.pod_scale_up(snap, pod)
        said_max = bool(
            said
            and not said.triggered
            and any(r == autoscaler.MAX_GROUP_SIZE for _, r in said.reasons)
        )
        at_max_fit = []
        if status is not None and any(g.at_max for g in status.groups):
            at_max_fit = [a for a in new_node_answers(snap, pod) if a.fits and a.at_max]
        if not said_max and not at_max_fit:
            continue
        name, ns = meta(pod).get("name"), meta(pod).get("namespace")
        if at_max_fit:
            parts = [
                f"a new node of pool {a.pool} would fit, but the pool is at its maximum "
                f"{a.target}/{a.max_size} (node group {a.node_group})"
                for a in at_max_fit
            ]
            fixes = [a.fix for a in at_max_fit if a.fix]
        else:
            groups = [g for g in (status.groups if status else []) if g.at_max]
            parts = [
                f"the autoscaler says: {said.message if said else ''}"
                + (
                    "; at maximum: "
                    + ", ".join(
                        f"{_pool_label(ctx, g.name)} {g.target}/{g.max_size}" for g in groups
                    )
                    if groups
                    else ""
                )
            ]
            fixes = [
                _nodepool_update(
                    ctx, _pool_label(ctx, g.name), g.min_size or 0, (g.max_size or 0) + 1
                )
                for g in groups
            ] or [_nodepool_update(ctx, "POOL", "MIN", "MAX")]
        evidence: dict = {"pools_at_max": [a.to_dict() for a in at_max_fit]}
        if said:
            evidence["autoscaler_event"] = said.message
        yield ctx.finding(
            pod,
            message=f"pod {ns}/{name} is Pending and the autoscaler adds no node: "
            + "; ".join(parts),
            evidence=evidence,
            remediation="raise the pool's maximum (the VM family's quota must cover it):\n"
            + "\n".join(fixes),
        )


@rule("AMD107", "autoscaler-scale-up-backoff", severity="error", needs=())
def autoscaler_scale_up_backoff(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports node groups whose scale-up the cluster autoscaler has put in backoff after a failed
    attempt, with the cloud's error from the status ConfigMap's `scaleUp.backoffInfo`. An Azure
    "exceeding approved ... Cores quota" error is read into the VM family, region, limit, usage
    and the new limit needed.

    ## Why is this bad?
    While backing off, the autoscaler does not try the group again (for minutes, doubling up to
    half an hour), so every Pending pod that needs that pool waits, and retrying changes
    nothing until the cloud-side cause (quota, capacity, a broken VM image) is fixed.

    ## Example
    ```yaml
    scaleUp:
      status: Backoff
      backoffInfo:
        errorCode: QuotaExceeded
        errorMessage: "Operation could not be completed as it results in exceeding approved
          standardNCADSA100v4Family Cores quota. ... Current Limit: 24, Current Usage: 24,
          Additional Required: 24, (Minimum) New Limit Required: 48. ..."
    ```

    ## How to fix
    For a quota error, request the new limit for that VM family in that region (Azure portal >
    Quotas > Compute, or `az quota update`), or move the pool to a VM size with quota left.
    Otherwise fix what the cloud error names.
    """
    status = autoscaler.read_status(ctx.snapshot)
    if status is None:
        return
    for group in status.groups:
        if group.scale_up != "Backoff":
            continue
        pool = _pool_label(ctx, group.name)
        error = group.backoff_message or group.backoff_code or "no error recorded"
        quota = quota_error(error)
        evidence: dict = {
            "node_group": group.name,
            "pool": pool,
            "error_code": group.backoff_code,
            "error_message": group.backoff_message,
        }
        if quota:
            evidence["azure_quota"] = quota
            head = (
                f"Azure quota {quota['family']} Cores in {quota.get('location') or 'the region'} "
                f"is exhausted (limit {quota.get('limit')}, usage {quota.get('usage')}, "
                f"{quota.get('required')} more needed, new limit required "
                f"{quota.get('new_limit')})"
            )
            fix = (
                f"request a Cores quota of at least {quota.get('new_limit')} for "
                f"{quota['family']} in {quota.get('location') or 'the region'}: Azure portal > "
                "Quotas > Compute, or `az quota update --resource-name "
                f"{quota['family']} --scope /subscriptions/SUB/providers/Microsoft.Compute/"
                f"locations/{quota.get('location') or 'REGION'} --limit-object "
                f"value={quota.get('new_limit')}`; check usage with `az vm list-usage "
                f"--location {quota.get('location') or 'REGION'} -o table`; or move pool "
                f"{pool} to a VM size whose family has quota left"
            )
        else:
            head = f"the last scale-up failed: {error}"
            fix = (
                f"fix what the cloud error names, then the autoscaler retries node group "
                f"{group.name} when its backoff expires (`az aks nodepool show --name {pool}` "
                "shows the pool's provisioning state)"
            )
        yield ctx.finding(
            status.config_map,
            message=f"cluster autoscaler is backing off scale-ups of pool {pool} "
            f"(node group {group.name}): {head}",
            evidence=evidence,
            remediation=fix,
        )


@rule("AMD108", "autoscaler-no-group-helps", severity="error", needs=("Pod",))
def autoscaler_no_group_helps(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports Pending pods for which the cluster autoscaler's latest word is NotTriggerScaleUp
    for reasons other than a pool at its maximum: no node group's new node would fit the pod
    (its node selector, taints or requests match no pool), with the autoscaler's per-group
    reasons quoted.

    ## Why is this bad?
    Adding nodes cannot help: the pod stays Pending however long it waits, until the pod or a
    pool changes.

    ## Example
    ```text
    Normal NotTriggerScaleUp pod/train-0  pod didn't trigger scale-up: 2 node(s) didn't match
      Pod's node affinity/selector, 1 Insufficient nvidia.com/gpu
    ```

    ## How to fix
    Make the pod fit some pool (fix the selector or toleration, lower the request to what the
    pool's VM size offers) or add a pool whose VM size and labels fit it (`az aks nodepool add`).
    `amldoctor why-pending POD` shows which pool's new node fails on what.
    """
    snap = ctx.snapshot
    for pod in _pending(ctx):
        said = autoscaler.pod_scale_up(snap, pod)
        if said is None or said.triggered:
            continue
        if any(r == autoscaler.MAX_GROUP_SIZE for _, r in said.reasons) or not said.reasons:
            continue
        other = [(n, r) for n, r in said.reasons if r != autoscaler.BACKED_OFF]
        if not other:
            continue
        name, ns = meta(pod).get("name"), meta(pod).get("namespace")
        reasons = ", ".join(f"{n} {r}" if n else r for n, r in said.reasons)
        yield ctx.finding(
            pod,
            message=(
                f"pod {ns}/{name} is Pending and no node group's new node would fit it "
                f"(autoscaler: {reasons}, {format_time(said.last_seen)})"
            ),
            evidence={
                "autoscaler_event": said.message,
                "reasons": [{"node_groups": n, "reason": r} for n, r in said.reasons],
            },
            remediation=(
                "make the pod fit a pool (selector, tolerations, requests within the pool's VM "
                "size) or add a pool that fits it (`az aks nodepool add ...`); "
                f"`amldoctor why-pending {name} -n {ns}` shows each pool's new-node verdict"
            ),
        )


@rule("AMD109", "autoscaler-status-stale", severity="warning", needs=())
def autoscaler_status_stale(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports a cluster autoscaler whose status ConfigMap (`kube-system/cluster-autoscaler-status`)
    was last written more than 5 minutes before the snapshot, or which reports itself as not
    running, while pods wait for a node.

    ## Why is this bad?
    The autoscaler rewrites its status every loop (10 seconds by default). An old status means
    it is not running or cannot write, so no node will be added for Pending pods however long
    they wait.

    ## Example
    ```yaml
    metadata:
      annotations:
        cluster-autoscaler.kubernetes.io/last-updated: 2026-11-28 07:12:03.1 +0000 UTC
    # captured at 2026-11-28T09:00:00Z: 1h48m old
    ```

    ## How to fix
    On AKS the autoscaler runs in the managed control plane: check that it is enabled on the
    pool (`az aks nodepool show --query enableAutoScaling`), re-enable it
    (`az aks nodepool update --enable-cluster-autoscaler ...`) or open a support request.
    Elsewhere, check the cluster-autoscaler Deployment's pods and logs.
    """
    snap = ctx.snapshot
    status = autoscaler.read_status(snap)
    if status is None:
        return
    pending = _pending(ctx)
    if not pending:
        return
    age = autoscaler.staleness_seconds(status, snap.captured_at)
    not_running = status.autoscaler_status not in (None, "Running")
    if not not_running and (age is None or age <= autoscaler.STALE_AFTER_SECONDS):
        return
    if not_running:
        head = f"reports autoscalerStatus {status.autoscaler_status}"
    else:
        head = (
            f"last wrote its status {format_age(age or 0)} before the snapshot "
            f"({format_time(status.updated)})"
        )
    yield ctx.finding(
        status.config_map,
        message=(
            f"cluster autoscaler {head}: it is not acting on the {len(pending)} Pending "
            "pod(s) waiting for a node"
        ),
        evidence={
            "last_updated": format_time(status.updated),
            "age_seconds": int(age) if age is not None else None,
            "autoscaler_status": status.autoscaler_status,
            "pending_pods": sorted(
                f"{meta(p).get('namespace')}/{meta(p).get('name')}" for p in pending
            )[:20],
        },
        remediation=(
            "check that the autoscaler runs: on AKS `az aks nodepool show --name POOL "
            "--query enableAutoScaling` and `az aks nodepool update --enable-cluster-autoscaler "
            "--min-count MIN --max-count MAX` if it was turned off; elsewhere `kubectl -n "
            "kube-system logs deploy/cluster-autoscaler`"
        ),
    )
