"""AMD701 and AMD72x: the AzureML extension itself: absent, broken components, failed health
checks, missing pieces.

When an extension component is down, AML users see symptoms far away from it: jobs Queued
forever (aml-operator, Volcano), endpoints failing with ScoringFeUnhealthy (azureml-fe), model
downloads failing (identity proxy). These rules read the extension's namespace and translate a
broken pod into what it breaks.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from amldoctor.aml.extension import (
    Component,
    extension_namespace,
    extension_pods,
    extension_visible,
    is_arc_cluster,
    owning_workload,
    pod_problem,
)
from amldoctor.aml.model import AML_GROUP, as_dict, is_aml_pod, name_of
from amldoctor.aml.remedy import az_extension_update
from amldoctor.engine.registry import Context, rule
from amldoctor.engine.report import Finding
from amldoctor.snapshot import Snapshot

_WARNING_AREAS = frozenset({"metrics", "logs"})
HEALTHCHECK_CONFIGMAPS = ("arcml-healthcheck", "amlarc-healthcheck")
# HealthCheck codes (AML extension troubleshooting doc): below E45000 block installation.
HEALTH_CODES = {
    "E40000": ("UNKNOWN_ERROR", "read the healthcheck logs: kubectl logs healthcheck -n {ns}"),
    "E40001": ("LOAD_BALANCER_NOT_SUPPORT", "use inferenceRouterServiceType=nodePort or clusterIP"),
    "E40002": (
        "INSUFFICIENT_NODE",
        "too few healthy nodes for the HA router, or a bad nodeSelector: set "
        "inferenceRouterHA=false or add nodes",
    ),
    "E40003": (
        "INTERNAL_LOAD_BALANCER_NOT_SUPPORT",
        "internalLoadBalancerProvider=azure works on AKS only",
    ),
    "E40007": (
        "INVALID_SSL_SETTING",
        "the SSL key or certificate is invalid, or sslCname does not match the certificate",
    ),
    "E45001": (
        "AGENT_UNHEALTHY",
        "an extension Pod, Job, Deployment, DaemonSet or StatefulSet is unhealthy: kubectl get "
        "pods -n {ns}",
    ),
    "E45002": (
        "PROMETHEUS_CONFLICT",
        "another Prometheus operator runs: installPromOp=false and integrate",
    ),
    "E45003": (
        "BAD_NETWORK_CONNECTIVITY",
        "check the outbound network requirements and private link",
    ),
    "E45004": (
        "AZUREML_FE_ROLE_CONFLICT",
        "delete the legacy AKS v1 azureml-fe-role and related resources",
    ),
    "E45005": ("AZUREML_FE_DEPLOYMENT_CONFLICT", "delete the legacy azureml-fe deployment"),
    "E49999": ("CHECKER_PANIC", "read the healthcheck logs: kubectl logs healthcheck -n {ns}"),
}
_CODE_RE = re.compile(r"\bE4\d{4}\b")


def _component_fix(snap: Snapshot, component: Component, problems: dict[str, str]) -> str:
    ns = extension_namespace(snap)
    first = sorted(problems)[0]
    base = (
        f"kubectl describe pod {first} -n {ns}; kubectl logs {first} -n {ns} --all-containers "
        "--previous"
    )
    text = " ".join(problems.values())
    if component.name == "azureml-fe" and "Pending" in text:
        cordoned = sorted(
            name_of(n) for n in snap.nodes if (n.get("spec") or {}).get("unschedulable")
        )
        uncordon = (
            f"\nuncordon {', '.join(cordoned)} if the drain is over (kubectl uncordon NODE), or"
            if cordoned
            else ""
        )
        return (
            base
            + f"{uncordon}\nthe HA inference router spreads 3 replicas over 3 nodes; on smaller "
            "clusters: " + (az_extension_update(snap, {"inferenceRouterHA": "false"}))
        )
    if component.name == "azureml-ingress-nginx-controller" and "OOMKilled" in text:
        return (
            base
            + "\nnginx starts one worker per CPU: "
            + az_extension_update(snap, {"nginxIngress.controllerConfig.worker-processes": "8"})
        )
    return base + "\nif it does not recover, repair the extension: " + az_extension_update(snap, {})


@rule("AMD701", "aml-extension-not-installed", severity="info", needs=())
def aml_extension_not_installed(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Says once that the cluster does not serve the AzureML extension's custom resources
    (`instancetypes.amlarc.azureml.com`, `amljobs`, Volcano PodGroups), so the AML checks had
    nothing to look at. It is a warning when pods carrying AML labels exist anyway.

    ## Why is this bad?
    Without the extension, an AML compute target on this cluster cannot run anything; with AML
    pods but no CRDs, the extension was removed or only half installed and its jobs are orphaned.
    On a cluster that is not used for AML this is only a note.

    ## Example
    `kubectl get instancetypes` answers
    `error: the server doesn't have a resource type "instancetypes"`.

    ## How to fix
    Check the extension with `az k8s-extension show --name <extension> --cluster-type
    managedClusters ...`; install it (`az k8s-extension create --extension-type
    Microsoft.AzureML.Kubernetes --config enableTraining=True ...`) if the cluster should run AML.
    """
    snap = ctx.snapshot
    absent = [m for m in snap.missing if m.kind in ("InstanceType", "AmlJob") and _not_served(m)]
    if not absent:
        return
    aml_pods = [p for p in ctx.pods() if is_aml_pod(p)]
    kinds = ", ".join(sorted({m.kind for m in snap.missing if _not_served(m)}))
    crd = {"kind": "CustomResourceDefinition", "metadata": {"name": f"instancetypes.{AML_GROUP}"}}
    message = (
        f"AzureML extension not installed: the cluster serves no {kinds}; AML checks were skipped"
    )
    severity = None
    if aml_pods:
        message += (
            f", yet {len(aml_pods)} pods carry AML labels (extension removed or half installed?)"
        )
        severity = "warning"
    yield ctx.finding(
        crd,
        message=message,
        evidence={
            "not_served": kinds,
            "aml_labelled_pods": len(aml_pods),
            "reasons": sorted({m.reason for m in absent}),
        },
        remediation=(
            "az k8s-extension show --name <extension> --cluster-type managedClusters "
            "--cluster-name <cluster> --resource-group <resource-group>\n"
            "to install: az k8s-extension create --name <extension> --extension-type "
            "Microsoft.AzureML.Kubernetes --cluster-type managedClusters --cluster-name <cluster> "
            "--resource-group <resource-group> --scope cluster --config enableTraining=True "
            "enableInference=True"
        ),
        severity=severity,
    )


def _not_served(missing) -> bool:
    return missing.status == 404 or str(missing.reason).startswith("not installed")


@rule("AMD720", "aml-extension-component-unhealthy", severity="error", needs=("Pod",))
def aml_extension_component_unhealthy(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Checks the pods of the AzureML extension (namespace `azureml`) and reports each component
    that is crash looping, Pending, failing to pull its image or not ready, with what it breaks
    for users: training (aml-operator, Volcano), inference (azureml-fe, ingress, identity proxy,
    inference operator), connectivity (relayserver, gateway) or metrics.

    ## Why is this bad?
    A broken extension component shows up far away: training jobs stuck Queued, endpoints
    failing with ScoringFeUnhealthy or ClusterServiceNotFound, model downloads failing. Nothing
    in the user's namespace points at the real cause.

    ## Example
    `aml-operator-7d9f8b6c5-x2k4p` in CrashLoopBackOff: every new training job stays Queued.

    ## How to fix
    Read the component's events and logs (the finding gives the commands); the usual causes are
    resources, network egress and an interrupted extension upgrade. `az k8s-extension update`
    re-applies the extension.
    """
    snap = ctx.snapshot
    grouped: dict[str, tuple[Component, dict, dict[str, str]]] = {}
    for component, pod in extension_pods(snap):
        problem = pod_problem(pod)
        if problem is None:
            continue
        owner = owning_workload(snap, pod)
        key = name_of(owner)
        grouped.setdefault(key, (component, owner, {}))[2][name_of(pod)] = problem
    for key in sorted(grouped):
        component, owner, problems = grouped[key]
        shown = ", ".join(f"{p}: {s}" for p, s in sorted(problems.items())[:3])
        arc_note = " (Arc clusters only)" if component.arc_only else ""
        yield ctx.finding(
            owner,
            message=(
                f"AzureML extension component {key}{arc_note} is unhealthy ({shown}): "
                f"{component.breaks}"
            ),
            evidence={
                "component": component.name,
                "area": component.area,
                "pods": problems,
                "namespace": extension_namespace(snap),
            },
            remediation=_component_fix(snap, component, problems),
            severity="warning" if component.area in _WARNING_AREAS else None,
        )


@rule("AMD721", "aml-healthcheck-failed", severity="error", needs=())
def aml_healthcheck_failed(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reads the extension's health-check report (ConfigMap `arcml-healthcheck`, formerly
    `amlarc-healthcheck`, in the extension namespace) and reports every error code in it with
    its documented meaning and fix.

    ## Why is this bad?
    The health check runs before every install and upgrade; a critical code (below E45000)
    fails the extension operation, a diagnostic one (E45xxx) names a misconfiguration that
    breaks training or inference later.

    ## Example
    `reports-pre-install: "... E40002 INSUFFICIENT_NODE ..."` on a two-node cluster with the
    HA inference router.

    ## How to fix
    Apply the fix for the code (the finding quotes it), then re-run the check with
    `helm test -n azureml <extension> --logs`.
    """
    snap = ctx.snapshot
    ns = extension_namespace(snap)
    for name in HEALTHCHECK_CONFIGMAPS:
        cm = snap.get("ConfigMap", ns, name)
        if cm is None:
            continue
        codes: dict[str, list[str]] = defaultdict(list)
        for section, value in sorted(as_dict(cm.get("data")).items()):
            for code in _CODE_RE.findall(str(value)):
                if section not in codes[code]:
                    codes[code].append(section)
        for code in sorted(codes):
            title, fix = HEALTH_CODES.get(
                code,
                ("unknown code", "read the healthcheck logs: kubectl logs healthcheck -n {ns}"),
            )
            critical = code < "E45000"
            yield ctx.finding(
                cm,
                message=(
                    f"AzureML extension health check reports {code} {title} in "
                    f"{', '.join(codes[code])}"
                    + (" (critical: blocks install and upgrade)" if critical else "")
                ),
                evidence={
                    "code": code,
                    "name": title,
                    "sections": codes[code],
                    "configmap": f"{ns}/{name}",
                },
                remediation=fix.format(ns=ns),
                severity=None if critical else "warning",
            )


@rule("AMD722", "aml-relay-missing-on-arc", severity="error", needs=("Pod",))
def aml_relay_missing_on_arc(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    On Azure Arc clusters (Arc agents in `azure-arc`), checks that the extension's
    `relayserver`, the Arc-only component that carries every request from AML, has a pod.

    ## Why is this bad?
    Without it AML cannot reach the cluster at all: jobs are never received and inference calls
    fail with `InferencingClientCallFailed: The k8s-extension of the Kubernetes cluster is not
    connectable`.

    ## Example
    An Arc cluster whose `azureml` namespace has aml-operator and gateway pods but no relayserver.

    ## How to fix
    Check `kubectl get deploy -n azureml relayserver` and the Azure Relay connection; re-apply
    the extension with `az k8s-extension update --cluster-type connectedClusters ...`.
    """
    snap = ctx.snapshot
    if not is_arc_cluster(snap) or not extension_visible(snap):
        return
    if any(component.name == "relayserver" for component, _ in extension_pods(snap)):
        return
    ns = extension_namespace(snap)
    yield ctx.finding(
        {"kind": "Namespace", "metadata": {"name": ns}},
        message=f"Arc cluster without the AzureML relayserver in {ns}: AML cannot send jobs or "
        "scoring calls to this cluster",
        evidence={
            "arc_namespace": "azure-arc",
            "extension_namespace": ns,
            "components_seen": sorted({c.name for c, _ in extension_pods(snap)}),
        },
        remediation="kubectl get deploy,pods -n "
        + ns
        + " | grep relay; then re-apply: "
        + az_extension_update(snap, {"relayserver.enabled": "true"}),
    )


@rule("AMD723", "aml-compute-namespace-missing", severity="error", needs=())
def aml_compute_namespace_missing(ctx: Context) -> Iterator[Finding]:
    """
    ## What it does
    Reports a scanned namespace that does not exist, when the snapshot can tell: AML's compute
    attach (`az ml compute attach --namespace X`) neither creates nor validates the namespace.

    ## Why is this bad?
    Training jobs sent to the compute stay Queued forever, and online deployments fail with
    `NamespaceNotFound`.

    ## Example
    `az ml compute attach --type Kubernetes --namespace aml-compute ...` on a cluster with no
    namespace `aml-compute`.

    ## How to fix
    `kubectl create namespace <ns>`, or detach the compute and attach it again with an existing
    namespace (changing the namespace of an attached compute has no effect).
    """
    snap = ctx.snapshot
    ns = snap.namespace
    if not ns:
        return
    listed = snap.collected("Namespace") and bool(snap.of_kind("Namespace"))
    missing = snap.missing_for("Namespace")
    absent = (listed and snap.get("Namespace", None, ns) is None) or (
        missing is not None and "may not exist" in missing.reason
    )
    if not absent:
        return
    sure = (
        "does not exist"
        if listed
        else "probably does not exist (it has no pods, events or ConfigMaps)"
    )
    yield ctx.finding(
        {"kind": "Namespace", "metadata": {"name": ns}},
        message=(
            f"namespace {ns} {sure}: if it is an AML compute's namespace, its training jobs stay "
            "Queued and online deployments fail with NamespaceNotFound"
        ),
        evidence={"namespace": ns, "namespace_list_read": listed},
        remediation=f"kubectl create namespace {ns}\n(or detach and re-attach the compute with an "
        "existing namespace: "
        "az ml compute detach ...; az ml compute attach --type Kubernetes --namespace <existing> "
        "...)",
    )
