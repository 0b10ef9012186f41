"""AMD5xx, part two: PersistentVolumeClaims that do not bind, do not exist, or cannot be shared.

A claim binds either to an existing PV (static) or to one a provisioner creates for its
StorageClass. `WaitForFirstConsumer` classes bind only once a pod using the claim is scheduled,
so a Pending claim is sometimes normal: the rule says which case applies.
"""

from __future__ import annotations

from amldoctor.engine.registry import Context, rule
from amldoctor.k8s.containers import as_dict, dicts, is_terminal, pod_label, strings
from amldoctor.k8s.events import event_message, event_reason
from amldoctor.k8s.objects import meta
from amldoctor.memo import memo_on
from amldoctor.rules._exits import short_text
from amldoctor.rules._memfix import bytes_of

DEFAULT_CLASS_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def claim_users(ctx: Context) -> dict[tuple[str | None, str], list[dict]]:
    """Non-terminal pods by the (namespace, claim name) they mount, built once per rule run.

    Only pods of the namespaces in scope: a claim is mounted only by pods of its own namespace,
    and the rules look claims up in scope. A namespace's scan holds every node-bound pod of the
    cluster when a pod waits (for the simulation); walking those 10,000 pods twice per scan for
    claims no rule asks about cost 0.05 s.
    """
    return memo_on(ctx.snapshot, ("claim_users", ctx.namespaces), lambda: _claim_users(ctx))


def _claim_users(ctx: Context) -> dict[tuple[str | None, str], list[dict]]:
    users: dict[tuple[str | None, str], list[dict]] = {}
    for pod in ctx.snapshot.pods:
        if not ctx.in_scope(pod) or is_terminal(pod):
            continue
        claims = {
            as_dict(vol.get("persistentVolumeClaim")).get("claimName")
            for vol in dicts(as_dict(pod.get("spec")).get("volumes"))
            if isinstance(vol, dict)
        }
        for claim in sorted(c for c in claims if isinstance(c, str)):
            users.setdefault((meta(pod).get("namespace"), claim), []).append(pod)
    return users


def _static_match(ctx: Context, pvc: dict) -> str:
    """Why no existing PV binds a claim without a class, as far as the snapshot can tell."""
    if not ctx.snapshot.collected("PersistentVolume"):
        return "PersistentVolumes were not collected, so matching PVs could not be checked"
    spec = pvc.get("spec") or {}
    wanted = bytes_of((as_dict(spec.get("resources")).get("requests") or {}).get("storage")) or 0
    modes = set(strings(spec.get("accessModes")))
    available = [
        pv
        for pv in ctx.snapshot.of_kind("PersistentVolume")
        if as_dict(pv.get("status")).get("phase") == "Available"
        and not as_dict(pv.get("spec")).get("storageClassName")
    ]
    fitting = [
        pv
        for pv in available
        if (bytes_of((as_dict(pv.get("spec")).get("capacity") or {}).get("storage")) or 0) >= wanted
        and modes <= set(strings(as_dict(pv.get("spec")).get("accessModes")))
    ]
    if fitting:
        return (
            f"PV {meta(fitting[0]).get('name')} looks compatible; check its labels against "
            "spec.selector and its volumeMode"
        )
    return (
        f"none of the {len(available)} available PVs without a class has the size and access "
        "modes it asks for"
    )


def _default_class(ctx: Context) -> str | None:
    for sc in ctx.snapshot.of_kind("StorageClass"):
        annotations = meta(sc).get("annotations") or {}
        if any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS):
            return meta(sc).get("name")
    return None


@rule("AMD503", "pvc-pending", severity="error", needs=("PersistentVolumeClaim",))
def pvc_pending(ctx: Context):
    """
    ## What it does
    Explains each Pending PersistentVolumeClaim: its StorageClass does not exist, there is no
    default class, no PV matches a static claim, provisioning failed (quoting the provisioner),
    or the class binds on first consumer (`WaitForFirstConsumer`), in which case it names the
    pods that use it and whether any is scheduled.

    ## Why is this bad?
    Pods that mount an unbound claim cannot be scheduled or started, and the scheduler's message
    ("pod has unbound immediate PersistentVolumeClaims") does not say why the claim is unbound.

    ## Example
    `PVC ml/datasets is Pending: StorageClass "premium-ssd" does not exist (classes: default,
    managed-csi, azurefile-csi)`

    ## How to fix
    Use an existing StorageClass, create the PV a static claim expects, fix the provisioning
    error (quota, zone, SKU), or, for WaitForFirstConsumer, look at why the consuming pod is not
    scheduled.
    """
    classes = {str(meta(sc).get("name")): sc for sc in ctx.snapshot.of_kind("StorageClass")}
    have_classes = ctx.snapshot.collected("StorageClass")
    users_by_claim = claim_users(ctx)
    for pvc in ctx.objects("PersistentVolumeClaim"):
        if as_dict(pvc.get("status")).get("phase") != "Pending":
            continue
        ns, name = meta(pvc).get("namespace"), meta(pvc).get("name", "")
        spec = pvc.get("spec") or {}
        class_name = spec.get("storageClassName")
        events = ctx.snapshot.events_for(pvc)
        users = users_by_claim.get((ns, name), [])
        user_names = [str(meta(p).get("name")) for p in users]
        severity = None
        evidence = {
            "storage_class": class_name,
            "access_modes": spec.get("accessModes"),
            "request": (as_dict(spec.get("resources")).get("requests") or {}).get("storage"),
            "used_by": user_names,
        }
        provisioning = [e for e in events if event_reason(e) == "ProvisioningFailed"]
        waiting = any(event_reason(e) == "WaitForFirstConsumer" for e in events)
        sc = classes.get(class_name) if class_name is not None else None
        if have_classes and class_name and sc is None:
            cause = (
                f'StorageClass "{class_name}" does not exist (classes: '
                f"{', '.join(sorted(classes)) or 'none'})"
            )
            fix = _missing_class_fix(class_name, spec.get("accessModes") or [], sorted(classes))
        elif class_name == "" or (
            class_name is None and have_classes and _default_class(ctx) is None
        ):
            cause = (
                "storageClassName is empty, so it binds only to an existing PV: "
                f"{_static_match(ctx, pvc)}"
                if class_name == ""
                else "it names no StorageClass and the cluster has no default class"
            )
            fix = (
                f"Create a PV matching the claim (size {evidence['request']}, modes "
                f"{', '.join(spec.get('accessModes') or ['?'])}), "
                "or set spec.storageClassName to a provisioning class (recreate the claim)."
            )
        elif provisioning:
            text = event_message(provisioning[-1])
            cause = f"provisioning failed: {short_text(text)}"
            fix = (
                "Fix what the provisioner reports (quota, zone, SKU, size limits, CSI driver "
                "health), then recreate the claim."
            )
            evidence["event_message"] = short_text(text, 400)
        elif waiting or (sc or {}).get("volumeBindingMode") == "WaitForFirstConsumer":
            scheduled = [
                meta(p).get("name") for p in users if as_dict(p.get("spec")).get("nodeName")
            ]
            if not users:
                cause = (
                    "its class binds on first consumer (WaitForFirstConsumer) and no pod uses "
                    "it yet: this is expected"
                )
                severity = "info"
            elif scheduled:
                cause = (
                    f"WaitForFirstConsumer, and pod {scheduled[0]} is scheduled: provisioning "
                    "should follow; check the CSI provisioner"
                )
            else:
                cause = (
                    "its class binds on first consumer (WaitForFirstConsumer) and pod(s) "
                    f"{', '.join(user_names)} "
                    "are not scheduled yet: the claim waits for them, see why they are Pending"
                )
                severity = "warning"
            fix = (
                f"Look at the consuming pods: `amldoctor why-pending -n {ns} "
                f"{user_names[0] if user_names else '<pod>'}`."
            )
        else:
            external = [e for e in events if event_reason(e) == "ExternalProvisioning"]
            cause = (
                f"waiting for the external provisioner: {short_text(event_message(external[-1]))}"
                if external
                else "no events explain it; events expire after about an hour"
            )
            fix = (
                f"Check the provisioner for class {class_name or '(default)'} is running (CSI "
                "controller pods in kube-system)."
            )
        used = (
            f"; used by pod(s) {', '.join(user_names)}"
            if user_names and user_names[0] not in cause
            else ""
        )
        yield ctx.finding(
            pvc,
            message=f"PVC {ns}/{name} is Pending: {cause}{used}",
            evidence=evidence,
            remediation=fix,
            severity=severity,
        )


@rule(
    "AMD504",
    "pvc-missing",
    severity="error",
    needs=("Pod", "PersistentVolumeClaim"),
    explains=("AMD101",),
)
def pvc_missing(ctx: Context):
    """
    ## What it does
    Finds pods whose volumes name a PersistentVolumeClaim that does not exist in their
    namespace.

    ## Why is this bad?
    The pod can never be scheduled: the scheduler waits for the claim forever. For AML, custom
    PVCs must live in the compute namespace, next to the job's pods.

    ## Example
    `pod ml/train-0 mounts PVC "datasets", which does not exist in namespace ml`

    ## How to fix
    Create the claim in the pod's namespace (with the AML label `ml.azure.com/pvc: "true"` and
    annotation `ml.azure.com/mountpath` for AML jobs), or fix the claim name.
    """
    for pod in ctx.pods():
        if is_terminal(pod):
            continue
        ns = meta(pod).get("namespace")
        for vol in dicts(as_dict(pod.get("spec")).get("volumes")):
            claim = (vol or {}).get("persistentVolumeClaim") or {} if isinstance(vol, dict) else {}
            name = claim.get("claimName")
            if not name or ctx.snapshot.get("PersistentVolumeClaim", ns, name) is not None:
                continue
            elsewhere = sorted(
                str(meta(p).get("namespace"))
                for p in ctx.snapshot.of_kind("PersistentVolumeClaim")
                if meta(p).get("name") == name
            )
            hint = (
                f" (a claim with that name exists in {', '.join(elsewhere)})" if elsewhere else ""
            )
            yield ctx.finding(
                pod,
                message=f'pod {pod_label(pod)} mounts PVC "{name}", which does not exist in '
                f"namespace {ns}{hint}",
                evidence={
                    "volume": vol.get("name"),
                    "claim": name,
                    "namespace": ns,
                    "found_in": elsewhere,
                },
                remediation=(
                    f"Create the claim in namespace {ns}:\napiVersion: v1\nkind: "
                    "PersistentVolumeClaim\nmetadata:\n"
                    f"  name: {name}\n  namespace: {ns}\nspec:\n  accessModes: [ReadWriteOnce]\n"
                    "  resources:\n    requests:\n      storage: 100Gi"
                ),
            )


@rule(
    "AMD505", "rwo-volume-multiple-nodes", severity="error", needs=("Pod", "PersistentVolumeClaim")
)
def rwo_volume_multiple_nodes(ctx: Context):
    """
    ## What it does
    Finds ReadWriteOnce (or ReadWriteOncePod) claims wanted by pods on different nodes, or by
    several pods when only one may use it.

    ## Why is this bad?
    A ReadWriteOnce volume attaches to a single node. Multi-node training workers that share one
    such claim cannot all start: the others wait in ContainerCreating with Multi-Attach errors.

    ## Example
    `PVC ml/checkpoints (ReadWriteOnce) is used by pods on 2 nodes: train-0 on gpu-1, train-1 on
    gpu-2`

    ## How to fix
    Use a ReadWriteMany class (azurefile-csi, Azure Blob CSI) for data shared across workers, or
    one claim per worker.
    """
    users_by_claim = claim_users(ctx)
    for pvc in ctx.objects("PersistentVolumeClaim"):
        modes = set(strings(as_dict(pvc.get("spec")).get("accessModes")))
        if not modes or not modes <= {"ReadWriteOnce", "ReadWriteOncePod"}:
            continue
        ns, name = meta(pvc).get("namespace"), meta(pvc).get("name", "")
        users = users_by_claim.get((ns, name), [])
        placed = {meta(p).get("name"): as_dict(p.get("spec")).get("nodeName") for p in users}
        nodes = sorted({n for n in placed.values() if n})
        single_pod = "ReadWriteOncePod" in modes
        if len(nodes) < 2 and not (single_pod and len(users) > 1):
            continue
        where = ", ".join(f"{p} on {n or '(not scheduled)'}" for p, n in sorted(placed.items()))
        mode = "ReadWriteOncePod" if single_pod else "ReadWriteOnce"
        yield ctx.finding(
            pvc,
            message=(
                f"PVC {ns}/{name} ({mode}) is used by {len(users)} pods on {len(nodes)} nodes: "
                f"{where}; only one node can attach it"
            ),
            evidence={"access_modes": sorted(modes), "pods": placed, "nodes": nodes},
            remediation=(
                "Use a ReadWriteMany class for data shared across nodes, e.g.\nspec:\n  "
                "accessModes: [ReadWriteMany]\n"
                "  storageClassName: azurefile-csi\nor give each worker its own claim."
            ),
        )


# AKS CSI drivers and the StorageClass names they install.
_AKS_DRIVERS = (
    ("blob", "--enable-blob-driver"),
    ("azurefile", "--enable-file-driver"),
    ("disk", "--enable-disk-driver"),
    ("managed", "--enable-disk-driver"),
)


def _missing_class_fix(class_name: str, modes: list[str], existing: list[str]) -> str:
    """Enable the AKS driver that installs the class, or pick an existing class that fits the
    modes."""
    flag = next((f for needle, f in _AKS_DRIVERS if needle in class_name.lower()), None)
    shared = "ReadWriteMany" in modes
    candidates = [c for c in existing if not shared or "file" in c or "blob" in c] or existing
    if candidates:
        recreate = (
            "recreate the claim (storageClassName is immutable) with an existing class: "
            f"{', '.join(candidates)}"
            + (" (ReadWriteMany needs a file or blob class)" if shared else "")
        )
    else:
        recreate = "create a StorageClass and recreate the claim"
    if flag:
        return (
            "The class is installed by an AKS CSI driver: `az aks update -g <rg> -n <cluster> "
            f"{flag}`; or {recreate}."
        )
    return f"{recreate[0].upper()}{recreate[1:]}."
