"""AMD708 and AMD73x: AML workloads as AML users define them (jobs and online deployments).

Pod-level rules already say that a container was OOM-killed or killed by its liveness probe.
These rules add what only the AML layer knows: that the job ran on the default instance type
because it named none, that an online deployment's scoring server is killed by AML's own probe
settings while its model loads, that a model download failed because the extension's identity
proxy is down. They speak per job or deployment and fix at the layer the user controls: an
instance type, the deployment YAML, `az ml`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from amldoctor.aml.extension import extension_namespace, extension_pods, pod_problem
from amldoctor.aml.instancetypes import (
    DEFAULT_MEMORY_LIMITS,
    DEFAULT_NAME,
    instance_type_yaml,
    resolve_instance_type,
    user_container,
)
from amldoctor.aml.model import Workload, is_inference_pod, name_of, namespace_of, workload_of
from amldoctor.aml.nodes import Capacity, is_schedulable
from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.containers import containers, iter_terminations, run_seconds
from amldoctor.k8s.nodepools import node_pool
from amldoctor.k8s.probes import settings
from amldoctor.k8s.quantity import format_bytes
from amldoctor.rules._runtime import probe_failures, probe_kills
from amldoctor.snapshot import Snapshot

GI = 1 << 30
SCORING_PORT = 5001
# AML's online-deployment probe defaults (CLI v2 deployment YAML schema).
AML_PROBE_DEFAULTS = {"initial_delay": 10, "period": 10, "timeout": 2, "failure_threshold": 30}


def _suggested_memory(snap: Snapshot, limit: int, pod: dict) -> tuple[int, str | None, int | None]:
    """Twice the old limit in whole Gi, capped to 80% of the largest node of the pod's pool."""
    node = snap.node((pod.get("spec") or {}).get("nodeName"))
    pool = node_pool(node) if node else None
    capacity = Capacity(snap)
    pool_nodes = [
        n for n in snap.nodes if is_schedulable(n) and (pool is None or node_pool(n) == pool)
    ]
    largest = max((capacity.allocatable(n).get("memory", 0) for n in pool_nodes), default=0)
    wanted = max(2 * limit, 4 * GI)
    wanted = -(-wanted // GI) * GI
    if largest:
        wanted = min(wanted, max(GI, (largest * 8 // 10) // GI * GI))
    return wanted, pool, largest or None


@rule(
    "AMD708",
    "aml-oom-on-default-instance-type",
    severity="error",
    needs=("Pod",),
    supersedes=("AMD201",),
)
def aml_oom_on_default_instance_type(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Finds AML jobs and online deployments whose user container was OOM-killed at the memory
    limit of the default instance type (2Gi, or 1536Mi before 2023): the job or deployment
    named no instance type, so AML gave it `defaultinstancetype`.

    ## Why is this bad?
    The default instance type is deliberately tiny. Most models and data loaders need more than
    2Gi, so the job is killed every time it runs, and raising memory in the training script or
    the Docker image changes nothing: the limit comes from the instance type.

    ## Example
    `az ml job create` with a command job and no `resources.instance_type`, on a cluster whose
    `kubectl get instancetype` shows no `defaultinstancetype`.

    ## How to fix
    Create an instance type that fits the job and a node pool, and name it in the job
    (`resources.instance_type`) or the deployment (`instance_type`); or override the default by
    creating an InstanceType named `defaultinstancetype`.
    """
    snap = ctx.snapshot
    for pod in ctx.pods():
        workload = workload_of(pod)
        view = user_container(pod) if workload else None
        if workload is None or view is None:
            continue
        if not any(t.get("reason") == "OOMKilled" for _, t in iter_terminations(view)):
            continue
        limit = view.resource("limits", "memory")
        if limit not in DEFAULT_MEMORY_LIMITS:
            continue
        resolved = resolve_instance_type(snap, pod)
        if resolved.get("name") != DEFAULT_NAME:
            continue
        builtin = snap.get("InstanceType", None, DEFAULT_NAME) is None
        which = (
            "the built-in defaultinstancetype"
            if builtin
            else "instance type defaultinstancetype (this cluster's default)"
        )
        memory, pool, largest = _suggested_memory(snap, limit, pod)
        new_name = f"mem-{memory // GI}gi"
        selector = {"kubernetes.azure.com/agentpool": pool} if pool else {}
        text_mem = format_bytes(memory)
        manifest = instance_type_yaml(
            new_name, selector, {"cpu": "1", "memory": text_mem}, {"cpu": "2", "memory": text_mem}
        )
        use = (
            f"then in the job YAML:\nresources:\n  instance_type: {new_name}"
            if workload.kind == "job"
            else f"then in the deployment YAML set `instance_type: {new_name}` and run: az ml "
            "online-deployment "
            f"update --endpoint-name {workload.endpoint} --name {workload.deployment} -f "
            "deployment.yml"
        )
        yield ctx.finding(
            pod,
            message=(
                f"{workload.label()}: container {view.name} was OOMKilled at "
                f"{format_bytes(limit)}, the memory "
                f"limit of {which}: the {workload.kind} names no instance type"
            ),
            evidence={
                **workload.to_dict(),
                "container": view.name,
                "memory_limit": format_bytes(limit),
                "instance_type": resolved,
                "suggested_memory": text_mem,
                "node_pool": pool,
                "largest_pool_node_memory": format_bytes(largest) if largest else None,
            },
            remediation=(
                "Create an instance type with room for the model (kubectl apply "
                f"-f):\n{manifest}\n{use}\n"
                "or raise the default for everything that names no instance type: apply the same "
                f"YAML with `name: {DEFAULT_NAME}`"
            ),
        )


def _deployments(ctx: Context) -> dict[Workload, list[dict]]:
    grouped: dict[Workload, list[dict]] = defaultdict(list)
    for pod in ctx.pods():
        workload = workload_of(pod)
        if workload is not None and workload.kind == "deployment" and is_inference_pod(pod):
            grouped[workload].append(pod)
    return dict(sorted(grouped.items(), key=lambda kv: kv[0].key))


def _owner(ctx: Context, pods: list[dict]) -> dict:
    """The Deployment behind the pods (object or stub), so the finding names what users deploy."""
    ref = ctx.owner_ref(pods[0])
    found = ctx.snapshot.get(ref.kind, ref.namespace, ref.name)
    return found or {"kind": ref.kind, "metadata": {"name": ref.name, "namespace": ref.namespace}}


@rule(
    "AMD730",
    "aml-scoring-probe-kills-model-load",
    severity="error",
    needs=("Pod",),
    supersedes=("AMD301", "AMD302", "AMD303"),
)
def aml_scoring_probe_kills_model_load(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    For each AML online deployment, finds scoring containers (the inference server on port
    5001) that the kubelet kills because their liveness probe fails while the model is still
    loading: the kill comes at about the probe's budget after start. It compares the probe with
    AML's deployment defaults and gives the deployment YAML to change.

    ## Why is this bad?
    The scoring server answers `GET /` only after `init()` has loaded the model. A large model
    takes longer than the liveness budget, so every replica is killed before it serves: the
    deployment never becomes ready (ResourceNotReady / CrashLoopBackOff) although nothing is
    wrong with the model or the code.

    ## Example
    ```yaml
    liveness_probe:
      initial_delay: 10
      period: 10
      failure_threshold: 3     # 40 s; the model needs 2 minutes to load
    ```

    ## How to fix
    In the online deployment YAML, raise `liveness_probe.initial_delay` (and
    `readiness_probe.initial_delay`) past the model load time, keep `failure_threshold` at
    AML's default of 30, then `az ml online-deployment update -f deployment.yml`.
    """
    snap = ctx.snapshot
    for workload, pods in _deployments(ctx).items():
        killed = []
        for pod in pods:
            view = user_container(pod)
            if view is None or view.probe("liveness") is None:
                continue
            kills = probe_kills(snap, pod, view.name).get("liveness")
            failures = probe_failures(snap, pod).get((view.name, "liveness"))
            if not kills and not (failures and view.restart_count):
                continue
            probe = settings(view.probe("liveness") or {})
            ran = run_seconds(view.last_terminated or {})
            if ran is not None and ran > probe.budget + 2 * probe.period + probe.timeout:
                continue  # it served for a while before failing: not a model-load kill
            killed.append((pod, view, probe, ran, kills[0] if kills else view.restart_count))
        if not killed:
            continue
        pod, view, probe, ran, count = killed[0]
        target = max(600, 3 * probe.budget)
        ran_text = f"ran {ran}s" if ran is not None else "run time unknown"
        port = probe.port if probe.port is not None else SCORING_PORT
        yield ctx.finding(
            _owner(ctx, pods),
            message=(
                f"online deployment {workload.id}: liveness probe on :{port} kills the scoring "
                "server before "
                f"the model loads in {len(killed)}/{len(pods)} replica(s) (budget {probe.budget}s "
                f"= initial_delay {probe.initial_delay} + failure_threshold "
                f"{probe.failure_threshold} x period "
                f"{probe.period}; container {ran_text}; {count} kills)"
            ),
            evidence={
                **workload.to_dict(),
                "container": view.name,
                "pods": sorted(name_of(p) for p, *_ in killed),
                "probe": probe.to_dict(),
                "ran_seconds": ran,
                "aml_defaults": AML_PROBE_DEFAULTS,
                "suggested_initial_delay": target,
            },
            remediation=(
                "In the online deployment YAML (AML has no startup probe setting):\n"
                f"liveness_probe:\n  initial_delay: {target}\n  period: {probe.period}\n  timeout: "
                f"{max(probe.timeout, AML_PROBE_DEFAULTS['timeout'])}\n  failure_threshold: "
                f"{max(probe.failure_threshold, AML_PROBE_DEFAULTS['failure_threshold'])}\n"
                f"readiness_probe:\n  initial_delay: {target}\n"
                f"then: az ml online-deployment update --endpoint-name {workload.endpoint} "
                f"--name {workload.deployment} -f deployment.yml"
            ),
        )


def _failed_model_download(pod: dict) -> tuple[str, str] | None:
    """(init container, state) when the model download init container fails."""
    for view in containers(pod):
        if not view.init or "storageinitializer" not in view.name.replace("-", ""):
            continue
        waiting = (view.waiting or {}).get("reason")
        term = view.terminated or view.last_terminated or {}
        if waiting == "CrashLoopBackOff" or term.get("exitCode") not in (None, 0):
            detail = waiting or f"exit {term.get('exitCode')}"
            if term.get("message"):
                detail += f": {' '.join(str(term['message']).split())[:160]}"
            return view.name, detail
    return None


@rule(
    "AMD731", "aml-model-download-failed", severity="error", needs=("Pod",), supersedes=("AMD406",)
)
def aml_model_download_failed(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    For each AML online deployment, finds replicas whose model download init container
    (`storageinitializer-*`) fails, and checks the extension component it depends on:
    `amlarc-identity-proxy`, which hands out the storage tokens.

    ## Why is this bad?
    The scoring container never starts: the deployment stays in `Init:` and AML reports it as
    not ready. The usual causes are outside the pod: the endpoint identity lacks read access to
    the model's storage account, egress to blob storage is blocked, or the identity proxy in the
    extension namespace is down.

    ## Example
    `storageinitializer-modeldata` in Init:CrashLoopBackOff with
    `AuthorizationPermissionMismatch` in its termination message.

    ## How to fix
    Fix the identity proxy first if it is unhealthy; otherwise give the endpoint's identity
    Storage Blob Data Reader on the storage account and read
    `az ml online-deployment get-logs --container storage-initializer`.
    """
    snap = ctx.snapshot
    proxy = {
        name_of(p): problem
        for component, p in extension_pods(snap)
        if component.name == "amlarc-identity-proxy" and (problem := pod_problem(p))
    }
    for workload, pods in _deployments(ctx).items():
        failing = {name_of(p): f for p in pods if (f := _failed_model_download(p))}
        if not failing:
            continue
        container, detail = next(iter(failing.values()))
        message = (
            f"online deployment {workload.id}: model download ({container}) fails in "
            f"{len(failing)}/{len(pods)} replica(s): {detail}"
        )
        if proxy:
            message += (
                "; the extension's amlarc-identity-proxy is unhealthy "
                f"({', '.join(sorted(proxy.values()))})"
            )
        ns = namespace_of(pods[0])
        fix = (
            f"az ml online-deployment get-logs --endpoint-name {workload.endpoint} --name "
            f"{workload.deployment} --container storage-initializer --lines 100\n"
        )
        if proxy:
            fix += (
                "first fix the identity proxy: kubectl describe pod -n "
                f"{extension_namespace(snap)} {sorted(proxy)[0]}\n"
            )
        fix += (
            "then grant the endpoint identity read access to the model's storage: az role "
            "assignment create "
            '--assignee <endpoint-principal-id> --role "Storage Blob Data Reader" --scope '
            "<storage-account-id>; "
            f"pods in {ns} must reach amlarc-identity-proxy on port 9999 and blob storage on 443"
        )
        yield ctx.finding(
            _owner(ctx, pods),
            message=message,
            evidence={
                **workload.to_dict(),
                "identity_proxy_problems": proxy,
                "failing_pods": {
                    pod: {"container": c, "state": d} for pod, (c, d) in failing.items()
                },
            },
            remediation=fix,
        )
