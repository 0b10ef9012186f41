"""AMD812–AMD815: manifests checked against a cluster (`lint --against`), and AML InstanceTypes.

Static lint can say a manifest is well-formed; only the cluster can say whether its claims,
Secrets and ConfigMaps exist, whether a node will take its pods, and whether the InstanceType
it names can run anywhere. These rules read a snapshot (`needs` lists what they read) and say
what they could not check when a kind was not collected.
"""

from __future__ import annotations

from collections.abc import Iterator

from amldoctor.aml.fit import analyze as fit_instance_type
from amldoctor.aml.fit import size_within
from amldoctor.aml.instancetypes import DEFAULT_NAME, builtin_default, parse_instance_type
from amldoctor.engine.registry import rule
from amldoctor.engine.report import Finding
from amldoctor.lint.engine import LintContext
from amldoctor.lint.fields import snippet
from amldoctor.lint.preflight import Placement, pod_for, safe_place
from amldoctor.lint.source import Document, FieldPath
from amldoctor.lint.workloads import Workload, dotted, instance_type_field

_REF_KINDS = ("PersistentVolumeClaim", "Secret", "ConfigMap")
_CONSEQUENCE = {
    ("PersistentVolumeClaim", "volume"): 'stays Pending (persistentvolumeclaim "{name}" not found)',
    ("Secret", "volume"): 'stays ContainerCreating (FailedMount: secret "{name}" not found)',
    ("ConfigMap", "volume"): 'stays ContainerCreating (FailedMount: configmap "{name}" not found)',
    ("Secret", "env"): 'fails with CreateContainerConfigError (secret "{name}" not found)',
    ("ConfigMap", "env"): 'fails with CreateContainerConfigError (configmap "{name}" not found)',
}


def references(w: Workload) -> Iterator[tuple[str, str, str | None, FieldPath, str]]:
    """(kind, name, key, path, how) for every required object the pod template names."""
    for i, vol in enumerate(w.spec.get("volumes") or []):
        if not isinstance(vol, dict):
            continue
        base = w.spec_path("volumes", i)
        pvc = vol.get("persistentVolumeClaim") or {}
        if pvc.get("claimName"):
            yield (
                "PersistentVolumeClaim",
                str(pvc["claimName"]),
                None,
                (*base, "persistentVolumeClaim", "claimName"),
                "volume",
            )
        secret = vol.get("secret") or {}
        if secret.get("secretName") and not secret.get("optional"):
            yield (
                "Secret",
                str(secret["secretName"]),
                None,
                (*base, "secret", "secretName"),
                "volume",
            )
        cm = vol.get("configMap") or {}
        if cm.get("name") and not cm.get("optional"):
            yield "ConfigMap", str(cm["name"]), None, (*base, "configMap", "name"), "volume"
        for j, src in enumerate((vol.get("projected") or {}).get("sources") or []):
            for key, kind in (("secret", "Secret"), ("configMap", "ConfigMap")):
                ref = (src or {}).get(key) or {}
                if ref.get("name") and not ref.get("optional"):
                    yield (
                        kind,
                        str(ref["name"]),
                        None,
                        (*base, "projected", "sources", j, key, "name"),
                        "volume",
                    )
    for path, c in w.containers(init=True):
        for i, var in enumerate(c.get("env") or []):
            source = (var or {}).get("valueFrom") or {}
            for key, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                ref = source.get(key) or {}
                if ref.get("name") and not ref.get("optional"):
                    yield (
                        kind,
                        str(ref["name"]),
                        ref.get("key"),
                        (*path, "env", i, "valueFrom", key, "name"),
                        "env",
                    )
        for i, src in enumerate(c.get("envFrom") or []):
            for key, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                ref = (src or {}).get(key) or {}
                if ref.get("name") and not ref.get("optional"):
                    yield kind, str(ref["name"]), None, (*path, "envFrom", i, key, "name"), "env"


@rule(
    "AMD812",
    "referenced-object-missing",
    severity="error",
    needs=("PersistentVolumeClaim", "Secret", "ConfigMap"),
    scope="lint",
)
def referenced_object_missing(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Pre-flight (`--against`): reports PersistentVolumeClaims, Secrets and ConfigMaps that a pod
    template mounts or reads (`volumes`, `env[].valueFrom`, `envFrom`) but that neither the
    cluster nor the linted manifests contain, and ConfigMap keys that do not exist. References
    marked `optional: true` are left alone.

    ## Why is this bad?
    A missing claim keeps the pod Pending; a missing Secret or ConfigMap volume keeps it in
    ContainerCreating (FailedMount); a missing env source fails the container with
    CreateContainerConfigError. None of it shows until the rollout is stuck.

    ## Example
    ```yaml
    volumes:
    - name: models
      persistentVolumeClaim: {claimName: model-store}   # no such PVC in namespace ml
    ```

    ## How to fix
    Create the object first (or ship it in the same manifests), or fix the name to one that
    exists: `kubectl get pvc,secret,configmap -n NAMESPACE` lists them.
    """
    snap = ctx.snapshot
    if snap is None:
        return
    unreadable = {k for k in _REF_KINDS if not snap.collected(k)}
    for kind in sorted(unreadable):
        miss = snap.missing_for(kind)
        ctx.notes.append(
            f"could not check {kind} references: {miss.reason if miss else 'not in the snapshot'}"
        )
    covered = set(snap.namespaces()) | ({snap.namespace} if snap.namespace else set())
    shipped = {
        (d.kind, ctx.namespace_of(d), d.name): d.obj
        for d in ctx.documents()
        if d.kind in _REF_KINDS
    }
    skipped_ns: set[str] = set()
    for w in ctx.workloads:
        ns = ctx.namespace_of(w)
        if ns not in covered:
            skipped_ns.add(ns)
            continue
        for kind, name, key, path, how in references(w):
            if kind in unreadable:
                continue
            obj = shipped.get((kind, ns, name)) or snap.get(kind, ns, name)
            if obj is None:
                consequence = _CONSEQUENCE[(kind, how)].format(name=name)
                yield ctx.finding(
                    w,
                    path,
                    message=f"{w.label} references {kind} {name}, which does not exist in "
                    "namespace "
                    f"{ns}: the pod {consequence}",
                    evidence={"kind": kind, "name": name, "namespace": ns},
                    remediation=f"create {kind} {name} in namespace {ns} before this workload "
                    f"(kubectl get {kind.lower()} -n {ns} lists what exists), or correct "
                    f"{dotted(path)} to an existing name",
                )
            elif kind == "ConfigMap" and key and not _has_key(obj, key):
                keys = sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})
                yield ctx.finding(
                    w,
                    path,
                    message=f"{w.label} reads key {key} of ConfigMap {name}, which has no such key "
                    f"(it has: {', '.join(keys) or 'none'}): the container fails with "
                    "CreateContainerConfigError",
                    evidence={
                        "kind": kind,
                        "name": name,
                        "namespace": ns,
                        "key": key,
                        "keys": keys,
                    },
                    remediation=f"use one of the keys ConfigMap {name} has, or add {key} to it",
                )
    for ns in sorted(skipped_ns):
        ctx.notes.append(
            f"references in namespace {ns} not checked: the cluster snapshot does not cover it"
        )


def _has_key(obj: dict, key: str) -> bool:
    return key in (obj.get("data") or {}) or key in (obj.get("binaryData") or {})


@rule("AMD813", "preflight-unschedulable", severity="error", needs=("Node",), scope="lint")
def preflight_unschedulable(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Pre-flight (`--against`): runs every workload's pod template through the kube-scheduler's
    filters against the cluster's nodes and the pods already on them, as `amldoctor
    why-pending` does. A pod no node takes is an error, with the scheduler's own message and
    the change that would make it fit; otherwise an info finding says on how many nodes it fits.

    ## Why is this bad?
    A manifest can be perfect and still never run here: the GPU pool is tainted, the
    nodeSelector names a label value no node carries, no node has 8 free GPUs. Finding out after
    the deploy means a Pending pod, a stuck rollout or an AML job queued for hours.

    ## Example
    ```yaml
    spec:
      nodeSelector: {kubernetes.azure.com/agentpool: gpupool}   # the pool is called gpu
      containers:
      - name: trainer
        resources:
          limits: {nvidia.com/gpu: 1}
    ```

    ## How to fix
    Apply the fix printed with the finding: the toleration to add (as YAML), the label value
    nodes really carry, the largest request any node can hold, or the pool to scale.
    """
    snap = ctx.snapshot
    if snap is None:
        return
    if not snap.collected("Node") or not snap.nodes:
        miss = snap.missing_for("Node")
        ctx.notes.append(
            f"scheduling not simulated: {miss.reason if miss else 'the snapshot has no nodes'}"
        )
        return
    for w in ctx.workloads:
        verdict = safe_place(snap, pod_for(w, ctx.namespace_of(w)))
        path = w.spec_path()
        if isinstance(verdict, str):
            ctx.notes.append(f"{w.doc.file}:{w.doc.line(path)}: {w.label}: {verdict}")
            continue
        if verdict.refused:
            yield ctx.finding(
                w,
                path,
                message=f"{w.label} would be refused by the API server: {verdict.refused[0]}",
                evidence={"admission": verdict.refused},
                remediation="create the missing object, or change the pod so that admission "
                "accepts it (PriorityClass name, RuntimeClass, requests within the quota)",
            )
            continue
        if verdict.fitting:
            yield _fits_finding(ctx, w, path, verdict)
            continue
        fixes = [
            f.get("text", "") + (f"\n{f['yaml']}" if f.get("yaml") else "") for f in verdict.fixes
        ]
        yield ctx.finding(
            w,
            path,
            message=f"{w.label} would stay Pending: {verdict.scheduler_message}",
            evidence={
                "nodes_total": verdict.nodes_total,
                "nodes_fitting": 0,
                "scheduler_message": verdict.scheduler_message,
                "closest_nodes": [c["name"] for c in verdict.closest],
            },
            remediation="\n".join(fixes)
            or "see `amldoctor why-pending -f` for the node-by-node analysis",
        )


def _fits_finding(ctx: LintContext, w: Workload, path: FieldPath, verdict: Placement) -> Finding:
    shown = ", ".join(verdict.fitting[:5]) + (", ..." if len(verdict.fitting) > 5 else "")
    return ctx.finding(
        w,
        path,
        message=f"{w.label} fits on {len(verdict.fitting)} of {verdict.nodes_total} nodes "
        f"({shown})",
        evidence={
            "nodes_total": verdict.nodes_total,
            "nodes_fitting": len(verdict.fitting),
            "fitting": verdict.fitting,
        },
        severity="info",
    )


@rule(
    "AMD814",
    "instance-type-unusable",
    severity="error",
    needs=("Node", "InstanceType"),
    scope="lint",
)
def instance_type_unusable(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Pre-flight (`--against`): checks each AML InstanceType that the linted files name (an
    `az ml` job's `resources.instance_type`, an online deployment's `instance_type`) or define
    (`kind: InstanceType` manifests): that it exists in the cluster, that its nodeSelector
    matches Ready nodes, that those nodes have its GPUs, and that one of them can hold its
    requests.

    ## Why is this bad?
    AML copies the InstanceType's nodeSelector and resources into the pods it creates. A
    missing instance type fails the job at submission; one that selects no node, or asks for
    more than any node has, fails with `Invalid instance type ... exceeded the node size`
    (code 9) or leaves the job queued.

    ## Example
    ```yaml
    # job.yml (az ml job create -f job.yml)
    compute: azureml:aks-gpu
    resources:
      instance_type: gpu-a100x2    # no such InstanceType on the cluster
    ```

    ## How to fix
    Use an instance type the cluster has (`kubectl get instancetype`), or create or fix it so its
    nodeSelector matches a GPU pool and its requests fit the pool's VM size.
    """
    snap = ctx.snapshot
    if snap is None:
        return
    shipped = {d.name: d for d in ctx.documents("InstanceType")}
    cluster = {(o.get("metadata") or {}).get("name"): o for o in snap.of_kind("InstanceType")}
    checks: list[tuple[Document, FieldPath, str]] = [
        (d, ("spec",), d.name) for d in shipped.values()
    ]
    for doc in ctx.documents():
        named = instance_type_field(doc)
        if named is not None and named[1] not in shipped:
            checks.append((doc, named[0], named[1]))
    for doc, path, name in checks:
        source = shipped.get(name)
        obj = source.obj if source is not None else cluster.get(name)
        if obj is None and name.lower() == DEFAULT_NAME:
            it = builtin_default()
        elif obj is None:
            if not snap.collected("InstanceType"):
                ctx.notes.append(
                    f"{doc.file}:{doc.line(path)}: InstanceType {name} not checked: the snapshot "
                    "has no InstanceTypes"
                )
                continue
            known = ", ".join(sorted(n for n in cluster if n)) or "none"
            yield ctx.finding(
                doc,
                path,
                message=f"{doc.file} names InstanceType {name}, which the cluster does not have "
                f"(it has: {known}): the job or deployment is rejected",
                evidence={"instance_type": name, "available": sorted(n for n in cluster if n)},
                remediation=f"use one of: {known}; or create InstanceType {name} "
                "(kubectl apply -f instancetype.yaml) before submitting",
            )
            continue
        else:
            it = parse_instance_type(obj)
        if it.problems:
            continue  # AMD815 reports a malformed definition
        problem = _fit_problem(snap, it)
        if problem is not None:
            yield ctx.finding(
                doc,
                path,
                message=f"InstanceType {name} {problem[0]}",
                evidence={"instance_type": name, **problem[1]},
                remediation=problem[2],
            )


def _fit_problem(snap, it) -> tuple[str, dict, str] | None:
    """(what is wrong, evidence, fix) for an instance type on the snapshot's nodes, or None."""
    fit = fit_instance_type(snap, it)
    selector = ",".join(f"{k}={v}" for k, v in sorted(fit.selector.items())) or "(none)"
    if fit.conflicts:
        return (
            f"conflicts with the AzureML extension's nodeSelector: {'; '.join(fit.conflicts)}",
            {"conflicts": fit.conflicts},
            "make the instance type's nodeSelector a subset of the extension's nodeSelector",
        )
    if not fit.matching:
        return (
            f"selects no node: no node carries {selector}",
            {"node_selector": fit.selector},
            "fix spec.nodeSelector to labels nodes carry (kubectl get nodes --show-labels)",
        )
    if not fit.candidates:
        what = "Ready, schedulable nodes" if not fit.ready else "nodes that advertise its GPUs"
        return (
            f"selects {len(fit.matching)} node(s) ({selector}) but none are {what}",
            {"nodes_matching": len(fit.matching)},
            "uncordon or repair the selected nodes, or install the GPU device plugin on them",
        )
    if not fit.fitting:
        largest = fit.largest or {}
        short = ", ".join(
            f"{e['resource']} {e['asked']} > {e['allocatable']}" for e in fit.exceeded
        )
        return (
            f"asks for more than any selected node has ({short} on the largest, "
            f"{largest.get('name')}): "
            "AML rejects its jobs (code 9: exceeded the node size)",
            {"largest_node": largest.get("name"), "exceeded": fit.exceeded},
            "lower the instance type's requests to 90% of the largest node's allocatable (the "
            "rest is left for DaemonSets), or select a pool with a bigger VM size:\n"
            + snippet(
                {
                    "spec": {
                        "resources": {
                            "requests": size_within(
                                fit.largest_allocatable, [e["resource"] for e in fit.exceeded]
                            )
                        }
                    }
                }
            ),
        )
    return None


@rule("AMD815", "instance-type-manifest-invalid", severity="error", needs=(), scope="lint")
def instance_type_manifest_invalid(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports `kind: InstanceType` manifests that AML's validation rejects: CPU or memory
    requests or limits missing or zero, GPUs in `requests` or not a whole number, a request
    above its limit.

    ## Why is this bad?
    The API server (through the CRD's validation) or aml-operator refuses the instance type,
    and every job or deployment that names it fails.

    ## Example
    ```yaml
    apiVersion: amlarc.azureml.com/v1alpha1
    kind: InstanceType
    metadata: {name: gpu-a100}
    spec:
      resources:
        requests: {cpu: "8", nvidia.com/gpu: 1}
        limits: {cpu: "8", memory: 64Gi}
    ```

    ## How to fix
    Requests and limits of cpu and memory, non-zero; GPUs only in limits, as a whole number:
    ```yaml
    resources:
      requests: {cpu: "8", memory: 64Gi}
      limits: {cpu: "8", memory: 64Gi, nvidia.com/gpu: 1}
    ```
    """
    for doc in ctx.documents("InstanceType"):
        it = parse_instance_type(doc.obj)
        for problem in it.problems:
            yield ctx.finding(
                doc,
                ("spec", "resources"),
                message=f"InstanceType {doc.name}: {problem}",
                evidence={"problem": problem},
                remediation="cpu and memory in both requests and limits, non-zero; GPUs only in "
                "limits, as a whole number:\n"
                + snippet(
                    {
                        "resources": {
                            "requests": {"cpu": "<cpu>", "memory": "<memory>"},
                            "limits": {"cpu": "<cpu>", "memory": "<memory>", "nvidia.com/gpu": 1},
                        }
                    }
                ),
            )
