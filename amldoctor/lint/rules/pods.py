"""AMD805, AMD806, AMD808, AMD809, AMD811: the shape of the workload around the containers.

Probes where traffic arrives (and nowhere else), probe budgets that let a model load, a
controller that recreates the pod, a restart policy the controller accepts, images that mean
the same build on every node.
"""

from __future__ import annotations

from collections.abc import Iterator

from amldoctor.engine.registry import rule
from amldoctor.engine.report import Finding
from amldoctor.k8s.images import parse_image
from amldoctor.lint.engine import LintContext
from amldoctor.lint.fields import amounts, container_name, gpu_count, snippet
from amldoctor.lint.workloads import BARE_POD, BATCH, DAEMON, SERVING, dotted

_PROBE_DEFAULTS = {"initialDelaySeconds": 0, "periodSeconds": 10, "failureThreshold": 3}
GPU_STARTUP_SECONDS = 300  # CUDA init plus model weights onto the GPU
LARGE_MEMORY_BYTES = 8 * 2**30
LARGE_STARTUP_SECONDS = 120  # a multi-GiB model read from disk or blob storage
MIN_STARTUP_SECONDS = 30  # the kubelet's default budget (0 + 3 x 10s): never go below it


@rule("AMD805", "serving-probes-missing", severity="warning", needs=(), scope="lint")
def serving_probes_missing(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports containers of Deployments and StatefulSets that serve a port behind a Service but
    have no `readinessProbe` (warning) or no `livenessProbe` (info). Services are read from the
    linted manifests and, in pre-flight, from the cluster. Batch workloads (Jobs, CronJobs,
    Volcano and Kubeflow jobs) are never asked for probes: nothing routes traffic to them.

    ## Why is this bad?
    Without a readiness probe the Service sends requests to a replica as soon as its process
    starts, long before the model is loaded: clients see connection errors and 502s on every
    rollout and every restart. Without a liveness probe a hung scoring server stays in
    rotation forever.

    ## Example
    ```yaml
    kind: Deployment
    spec:
      template:
        spec:
          containers:
          - name: scorer
            ports: [{containerPort: 5001}]
            # no readinessProbe
    ```

    ## How to fix
    Probe the server's health route on the served port:
    ```yaml
    readinessProbe:
      httpGet: {path: /, port: 5001}
      periodSeconds: 10
    livenessProbe:
      httpGet: {path: /, port: 5001}
      periodSeconds: 10
    ```
    """
    services = _services(ctx)
    for w in ctx.workloads:
        if w.kind not in ("Deployment", "StatefulSet"):
            continue
        ns = ctx.namespace_of(w)
        behind = [
            svc for svc_ns, svc in services
            if svc_ns == ns and _selects(svc, w.labels)
        ]  # fmt: skip
        if not behind:
            continue
        for path, c in w.containers():
            served = _served_ports(c, behind)
            if not served:
                continue
            missing = [
                p for p in ("readinessProbe", "livenessProbe") if not isinstance(c.get(p), dict)
            ]
            if not missing:
                continue
            name = container_name(c, path)
            port, svc_name = served[0]
            check = {"httpGet": {"path": "/", "port": port}, "periodSeconds": 10}
            yield ctx.finding(
                w,
                path,
                message=f"container {name} of {w.label} serves port {port} behind Service "
                f"{svc_name} but has no {' and no '.join(missing)}: "
                + (
                    "it receives requests before the model is loaded"
                    if "readinessProbe" in missing
                    else "a hung server stays in rotation"
                ),
                evidence={"container": name, "port": port, "service": svc_name, "missing": missing},
                remediation=f"in {dotted(path)} ({name}), probe the server's health route "
                "(change the path if yours is not /):\n" + snippet({p: check for p in missing}),
                severity="warning" if "readinessProbe" in missing else "info",
            )


def _services(ctx: LintContext) -> list[tuple[str, dict]]:
    out = [(ctx.namespace_of(d), d.obj) for d in ctx.documents("Service")]
    if ctx.snapshot is not None:
        out += [
            ((s.get("metadata") or {}).get("namespace") or "", s)
            for s in ctx.snapshot.of_kind("Service")
        ]
    return out


def _selects(service: dict, labels: dict) -> bool:
    selector = (service.get("spec") or {}).get("selector")
    if not isinstance(selector, dict) or not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def _served_ports(container: dict, services: list[dict]) -> list[tuple[int | str | None, str]]:
    """(container port, service name) for each Service port that targets this container."""
    ports = [p for p in container.get("ports") or [] if isinstance(p, dict)]
    out: list[tuple[int | str | None, str]] = []
    for svc in services:
        svc_name = (svc.get("metadata") or {}).get("name") or "?"
        for sp in (svc.get("spec") or {}).get("ports") or []:
            if not isinstance(sp, dict):
                continue
            target = sp.get("targetPort", sp.get("port"))
            for p in ports:
                if target in (p.get("containerPort"), p.get("name")) or str(target) == str(
                    p.get("containerPort")
                ):
                    out.append((p.get("containerPort"), svc_name))
    return out


def startup_budget(probe: dict) -> int:
    """Seconds before a probe that never succeeds gives up: delay + threshold x period."""
    values: dict[str, int] = {}
    for k, default in _PROBE_DEFAULTS.items():
        value = probe.get(k)
        values[k] = value if isinstance(value, int) else default
    return values["initialDelaySeconds"] + values["failureThreshold"] * values["periodSeconds"]


def _needed_seconds(container: dict) -> tuple[int, str]:
    gpus = gpu_count(container)
    if gpus:
        return (
            GPU_STARTUP_SECONDS,
            f"requests {gpus} GPU(s): CUDA init and loading weights onto a GPU often take minutes",
        )
    memory = amounts(container, "limits").get("memory") or amounts(container, "requests").get(
        "memory"
    )
    if memory and memory.quantity is not None and memory.quantity.value() >= LARGE_MEMORY_BYTES:
        return (
            LARGE_STARTUP_SECONDS,
            f"has {memory.raw} of memory: loading a model that size takes more than a minute",
        )
    return MIN_STARTUP_SECONDS, "the kubelet's own default is 30s"


@rule("AMD806", "probe-startup-budget-short", severity="warning", needs=(), scope="lint")
def probe_startup_budget_short(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports containers whose `livenessProbe` (or `startupProbe`, when there is one) gives up
    before the workload can have started: `initialDelaySeconds + failureThreshold ×
    periodSeconds` below 300s for GPU containers, 120s for containers with 8Gi of memory or
    more (large models), 30s for the rest.

    ## Why is this bad?
    The kubelet kills a container whose liveness probe keeps failing. A scoring server that
    needs three minutes to load a model onto a GPU and is probed for 30s is killed while
    loading, restarted, killed again: CrashLoopBackOff with nothing wrong in the code.

    ## Example
    ```yaml
    livenessProbe:
      httpGet: {path: /, port: 5001}
      initialDelaySeconds: 10
      periodSeconds: 10
      failureThreshold: 3      # killed after 40s
    ```

    ## How to fix
    Add a `startupProbe` with the same check and a budget that covers the slowest start; the
    liveness probe only begins once it has succeeded, so it can stay strict:
    ```yaml
    startupProbe:
      httpGet: {path: /, port: 5001}
      periodSeconds: 10
      failureThreshold: 30     # up to 300s to start
    ```
    """
    for w in ctx.workloads:
        for path, c in w.containers():
            liveness = c.get("livenessProbe")
            if not isinstance(liveness, dict):
                continue
            startup = c.get("startupProbe")
            probe_key = "startupProbe" if isinstance(startup, dict) else "livenessProbe"
            probe = startup if isinstance(startup, dict) else liveness
            budget = startup_budget(probe)
            needed, why = _needed_seconds(c)
            if budget >= needed:
                continue
            name = container_name(c, path)
            handler = {
                k: v for k, v in liveness.items() if k in ("httpGet", "tcpSocket", "exec", "grpc")
            }
            fix = {
                "startupProbe": {
                    **handler,
                    "periodSeconds": 10,
                    "failureThreshold": -(-needed // 10),
                }
            }
            parts = {k: probe.get(k, d) for k, d in _PROBE_DEFAULTS.items()}
            yield ctx.finding(
                w,
                (*path, probe_key),
                message=f"container {name} of {w.label} is killed if not healthy after {budget}s "
                f"({probe_key}: initialDelaySeconds {parts['initialDelaySeconds']} + "
                "failureThreshold "
                f"{parts['failureThreshold']} × periodSeconds {parts['periodSeconds']}), but it "
                f"{why}",
                evidence={
                    "container": name,
                    "probe": probe_key,
                    "budget_seconds": budget,
                    "needed_seconds": needed,
                },
                remediation=f"in {dotted(path)} ({name}), give it {needed}s to start with a "
                "startupProbe:\n" + snippet(fix),
            )


@rule("AMD808", "bare-pod", severity="warning", needs=(), scope="lint")
def bare_pod(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports bare `Pod` manifests: pods that no controller (Job, Deployment, StatefulSet) owns.

    ## Why is this bad?
    Nothing recreates a bare pod: when its node is drained for an upgrade, scaled down by the
    autoscaler, preempted, or fails, the training run or the endpoint is simply gone. Jobs add
    retries (`backoffLimit`) and completion tracking; Deployments add replicas and rollouts.

    ## Example
    ```yaml
    apiVersion: v1
    kind: Pod
    metadata: {name: train-bert}
    ```

    ## How to fix
    Run training as a Job (`restartPolicy: Never`, a `backoffLimit`) and serving as a
    Deployment; move the pod's `spec` under `spec.template.spec`.
    """
    for w in ctx.workloads:
        if w.category != BARE_POD:
            continue
        serving = any(c.get("ports") for _, c in w.containers())
        if serving:
            kind, wrapper = (
                "Deployment",
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": w.name},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": w.name}},
                        "template": {"metadata": {"labels": {"app": w.name}}, "spec": {}},
                    },
                },
            )
        else:
            kind, wrapper = (
                "Job",
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {"name": w.name},
                    "spec": {"backoffLimit": 2, "template": {"spec": {}}},
                },
            )
        use = "serving" if serving else "a run to completion"
        move = "this Pod's spec goes here" + ("" if serving else ", with restartPolicy: Never")
        yield ctx.finding(
            w,
            ("kind",),
            message=f"Pod {w.name} is a bare Pod for {use}: nothing recreates it when its node is "
            f"drained, scaled down, preempted or fails; use a {kind}",
            evidence={"suggested_kind": kind, "serves_ports": serving},
            remediation=snippet(wrapper).replace("spec: {}", f"spec:  # {move}"),
        )


_ALLOWED_RESTART = {
    "Deployment": ("Always",),
    "StatefulSet": ("Always",),
    "DaemonSet": ("Always",),
    "ReplicaSet": ("Always",),
    "ReplicationController": ("Always",),
    "Job": ("Never", "OnFailure"),
    "CronJob": ("Never", "OnFailure"),
}


@rule("AMD809", "restart-policy-mismatch", severity="error", needs=(), scope="lint")
def restart_policy_mismatch(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports pod templates whose `restartPolicy` their controller does not accept: a Job or
    CronJob without `Never`/`OnFailure` (an unset policy defaults to `Always`), or a
    Deployment, StatefulSet, DaemonSet or ReplicaSet with anything but `Always`.

    ## Why is this bad?
    The API server rejects the object (`Unsupported value: "Always": supported values:
    "OnFailure", "Never"`): `kubectl apply` or the Helm release fails, and in GitOps the sync
    stays red.

    ## Example
    ```yaml
    kind: Job
    spec:
      template:
        spec:
          containers: [...]
          # restartPolicy missing: defaults to Always, which a Job refuses
    ```

    ## How to fix
    For Jobs, `restartPolicy: Never` (the Job controller retries with a new pod, up to
    `backoffLimit`, keeping the failed pod's logs) or `OnFailure` (restarts in place). For
    long-running controllers, remove the field or set `Always`.
    """
    for w in ctx.workloads:
        if w.category not in (SERVING, BATCH, DAEMON) or w.task is not None:
            continue
        allowed = _ALLOWED_RESTART.get(w.kind)
        if allowed is None:
            continue
        policy = w.spec.get("restartPolicy")
        effective = policy or "Always"
        if effective in allowed:
            continue
        shown = f"restartPolicy {policy}" if policy else "no restartPolicy (defaults to Always)"
        path = w.spec_path("restartPolicy") if policy else w.spec_path()
        yield ctx.finding(
            w,
            path,
            message=f"{w.label} has {shown}, but a {w.kind} accepts only "
            f"{' or '.join(allowed)}: the API server rejects it",
            evidence={"restart_policy": policy, "allowed": list(allowed)},
            remediation=f"in {dotted(w.spec_path())}:\n" + snippet({"restartPolicy": allowed[0]}),
        )


@rule("AMD811", "image-tag-mutable", severity="warning", needs=(), scope="lint")
def image_tag_mutable(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports containers whose image has no tag or the `:latest` tag (and no `@sha256:` digest).

    ## Why is this bad?
    `latest` is whatever was pushed last: two workers of one distributed training job can run
    different code, a restart after a push changes the model server, and a rollback does not
    roll back. Untagged images are `latest`, and `latest` is pulled on every start
    (`imagePullPolicy: Always` by default), slowing starts of multi-GiB CUDA images.

    ## Example
    ```yaml
    image: myacr.azurecr.io/bert-train
    ```

    ## How to fix
    Pin a version tag, or a digest for full reproducibility:
    ```yaml
    image: myacr.azurecr.io/bert-train:1.4.2
    ```
    """
    for w in ctx.workloads:
        for path, c in w.containers(init=True):
            image = c.get("image")
            if not isinstance(image, str) or not image:
                continue
            ref = parse_image(image)
            tag = ref.tag
            if ref.digest or (tag is not None and tag != "latest"):
                continue
            repo = image.strip()[: -len(f":{tag}")] if tag else image.strip()
            name = container_name(c, path)
            what = "the :latest tag" if tag else "no tag (so :latest)"
            yield ctx.finding(
                w,
                (*path, "image"),
                message=f"container {name} of {w.label} uses image {image} with {what}: nodes may "
                "run "
                "different builds, and a restart can change the code",
                evidence={"container": name, "image": image},
                remediation=f"in {dotted(path)} ({name}), pin a version (or @sha256: digest):\n"
                + snippet({"image": f"{repo}:<version>"}),
            )
