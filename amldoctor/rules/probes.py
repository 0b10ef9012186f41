"""AMD3xx: probes.

Probe failures are only visible as `Unhealthy` and `Killing` events, which expire after about
an hour; when they are gone these rules fall back on the container status and say so. Probe
presence is never demanded of batch pods (Jobs, Volcano and AML training pods): they serve no
traffic and run to completion, and flagging them is the most common false positive of other
tools.
"""

from __future__ import annotations

import math

from amldoctor.aml.model import is_aml_pod
from amldoctor.engine.registry import Context, rule
from amldoctor.k8s.containers import (
    ContainerView,
    as_dict,
    containers,
    is_batch_pod,
    is_terminal,
    pod_label,
    run_seconds,
)
from amldoctor.k8s.objects import meta
from amldoctor.k8s.probes import ProbeSettings, container_ports, settings
from amldoctor.rules._runtime import EVENTS_EXPIRE, probe_failures, probe_kills, when

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


def _causes(causes: dict[str, int]) -> str:
    return ", ".join(
        f"{label} x{n}" for label, n in sorted(causes.items(), key=lambda kv: (-kv[1], kv[0]))
    )


@rule("AMD301", "probe-failing", severity="warning", needs=("Pod",))
def probe_failing(ctx: Context):
    """
    ## What it does
    Counts `Unhealthy` events per container and probe (liveness, readiness, startup) and
    classifies the failure text: HTTP status, connection refused, timeout, exec exit code. It
    also reports a running container that is not ready when the pod has no events left to
    explain it. Containers that probes are killing are reported by AMD302/AMD303 instead, with
    their failures.

    ## Why is this bad?
    A failing readiness probe takes the pod out of its Service: requests fail or queue although
    the pod is Running. The failure text says whether the server is not listening yet
    (connection refused), too slow (timeout) or unhealthy (HTTP 5xx).

    ## Example
    `readiness probe of container model in pod ml/scorer-0 failed 42 times (HTTP 503 x42), last
    at 2026-11-28T08:41:07Z: HTTP probe failed with statuscode: 503`

    ## How to fix
    Fix the endpoint the probe calls, point the probe at the right port and path, or give slow
    start-ups more time (`initialDelaySeconds`, a `startupProbe`, a larger `timeoutSeconds`).
    """
    captured = ctx.snapshot.captured_at
    for pod in ctx.pods():
        failures = probe_failures(ctx.snapshot, pod)
        by_name = {c.name: c for c in containers(pod)}
        for (name, probe), entry in sorted(failures.items()):
            view = by_name.get(name)
            if probe_kills(ctx.snapshot, pod, name) or (
                view is not None and _killed_silently(view, "liveness")
            ):
                # the kill loop (AMD302/AMD303) is the finding; these failures are its symptom
                continue
            probe_obj = view.probe(probe) if view else None
            configured = settings(probe_obj).describe() if probe_obj else "probe not in the spec"
            yield ctx.finding(
                pod,
                message=(
                    f"{probe} probe of container {name} in pod {pod_label(pod)} failed "
                    f"{entry.count} times "
                    f"({_causes(entry.causes)}), last {when(entry.last_time, captured)}: "
                    f"{entry.last_text}"
                ),
                evidence={
                    "container": name,
                    "probe": probe,
                    "failures": entry.count,
                    "causes": entry.causes,
                    "last_failure": entry.last_text,
                    "probe_settings": settings(probe_obj).to_dict() if probe_obj else None,
                },
                remediation=_failure_fix(probe, entry.causes, configured),
            )
        if failures or is_terminal(pod) or ctx.snapshot.events_for(pod):
            continue
        for view in containers(pod):
            readiness = view.probe("readiness")
            if view.running is not None and not view.ready and readiness:
                probe_set = settings(readiness)
                yield ctx.finding(
                    pod,
                    message=(
                        f"container {view.name} in pod {pod_label(pod)} is running but not ready "
                        f"(readiness {probe_set.handler} {probe_set.target}); {EVENTS_EXPIRE}"
                    ),
                    evidence={
                        "container": view.name,
                        "probe": "readiness",
                        "events": 0,
                        "probe_settings": probe_set.to_dict(),
                    },
                    remediation=(
                        f"Run `kubectl describe pod -n {meta(pod).get('namespace')} "
                        f"{meta(pod).get('name')}` "
                        f"while it is failing, and call the probe target {probe_set.target} from "
                        "inside the container to see its answer."
                    ),
                )


def _failure_fix(probe: str, causes: dict[str, int], configured: str) -> str:
    top = max(causes, key=lambda k: causes[k]) if causes else "other"
    if top == "connection refused":
        advice = (
            "Nothing listens on the probe port yet: check the port the server binds (and "
            "0.0.0.0, not 127.0.0.1), or delay the probe until the server is up."
        )
    elif top == "timeout":
        advice = (
            "The endpoint answers too slowly: raise timeoutSeconds, or make the health "
            "handler cheap (no model call)."
        )
    elif top.startswith("HTTP 5"):
        advice = (
            "The health endpoint reports itself unhealthy: read the container logs around the "
            "failures."
        )
    elif top.startswith("HTTP 4"):
        advice = (
            "The probe path is wrong or needs authentication: point it at an unauthenticated "
            "health route."
        )
    else:
        advice = "Run the probe by hand inside the container to see why it fails."
    return f"{advice} Current {probe} probe: {configured}."


def _killed_silently(view: ContainerView, probe: str) -> bool:
    """A restart with exit 137 and no OOM, for a container that has this kind of probe."""
    last = view.last_terminated or {}
    return (
        probe in ("liveness", "startup")
        and view.probe(probe) is not None
        and last.get("exitCode") == 137
        and last.get("reason") != "OOMKilled"
    )


def _liveness_kills(ctx: Context, pod: dict, view: ContainerView) -> tuple[int, str] | None:
    """(kills, evidence text) when the liveness probe is what restarts this container."""
    if view.probe("liveness") is None:
        return None
    kills = probe_kills(ctx.snapshot, pod, view.name).get("liveness")
    if kills:
        return kills[
            0
        ], f"{kills[0]} Killing events, last {when(kills[1], ctx.snapshot.captured_at)}"
    if view.restart_count and _killed_silently(view, "liveness"):
        failures = probe_failures(ctx.snapshot, pod).get((view.name, "liveness"))
        if failures:
            return (
                view.restart_count,
                f"{view.restart_count} restarts with exit 137 and {failures.count} liveness "
                "failures",
            )
        if not ctx.snapshot.events_for(pod):
            return (
                view.restart_count,
                f"{view.restart_count} restarts with exit 137 (not OOMKilled); {EVENTS_EXPIRE}",
            )
    return None


def _startup_too_slow(view: ContainerView, probe: ProbeSettings) -> int | None:
    """Seconds the container ran before the kill, when that matches the liveness budget."""
    ran = run_seconds(view.last_terminated or {})
    if ran is None or view.probe("startup") is not None:
        return None
    return ran if ran <= probe.budget + 2 * probe.period + probe.timeout else None


@rule("AMD302", "liveness-kill-loop", severity="error", needs=("Pod",))
def liveness_kill_loop(ctx: Context):
    """
    ## What it does
    Finds containers that the kubelet keeps restarting because their liveness probe fails
    (`Killing` events "failed liveness probe", or restarts with exit code 137 that are not OOM
    kills alongside liveness failures), and quotes the probe settings. Kills during start-up are
    reported by AMD303 instead.

    ## Why is this bad?
    Every kill throws away the process state; the exit code 137 looks like an OOM or a crash, so
    people raise memory or debug their code while the probe is the cause.

    ## Example
    `liveness probe (httpGet :8080/healthz, periodSeconds 10, failureThreshold 3) killed container
    api in pod ml/api-7c9 6 times (exit 137 is the kubelet's SIGKILL, not an OOM)`

    ## How to fix
    Make the liveness endpoint cheap and independent of downstream services, raise
    `timeoutSeconds`/`failureThreshold`, or remove a liveness probe that adds nothing.
    """
    for pod in ctx.pods():
        for view in containers(pod):
            kills = _liveness_kills(ctx, pod, view)
            if kills is None:
                continue
            probe = settings(view.probe("liveness") or {})
            if _startup_too_slow(view, probe) is not None:
                continue
            failures = probe_failures(ctx.snapshot, pod).get((view.name, "liveness"))
            detail = (
                f"; failures: {_causes(failures.causes)}: {failures.last_text}" if failures else ""
            )
            yield ctx.finding(
                pod,
                message=(
                    f"liveness probe ({probe.describe()}) keeps killing container {view.name} in "
                    f"pod {pod_label(pod)}: {kills[1]}; exit 137 is the kubelet's SIGKILL, not an "
                    f"OOM{detail}"
                ),
                evidence={
                    "container": view.name,
                    "kills": kills[0],
                    "restart_count": view.restart_count,
                    "probe_settings": probe.to_dict(),
                    "failure_causes": failures.causes if failures else {},
                },
                remediation=(
                    "Make the liveness handler cheap (no model or database call) and tolerant: "
                    f"e.g.\nlivenessProbe:\n  timeoutSeconds: {max(probe.timeout, 5)}\n"
                    f"  periodSeconds: {probe.period}\n  failureThreshold: "
                    f"{max(probe.failure_threshold, 6)}"
                ),
            )


@rule("AMD303", "startup-exceeds-probe-budget", severity="error", needs=("Pod",))
def startup_exceeds_probe_budget(ctx: Context):
    """
    ## What it does
    Finds containers killed by their liveness probe before they finished starting: each run
    lasted about `initialDelaySeconds + failureThreshold x periodSeconds`, and no
    `startupProbe` protects the start-up. It computes a `startupProbe` that gives the start-up
    room without slowing down failure detection afterwards.

    ## Why is this bad?
    A model server that loads a multi-gigabyte model needs minutes before it answers. The
    liveness probe counts those minutes as failures and kills it, forever: the pod looks like a
    crash loop and never serves.

    ## Example
    `container model in pod ml/llm-0 was killed after 40s by its liveness probe, whose budget is
    40s (initialDelaySeconds 10 + failureThreshold 3 x periodSeconds 10); start-up takes longer`

    ## How to fix
    Add a `startupProbe` with the same handler and `failureThreshold x periodSeconds` longer
    than the slowest start-up (liveness starts only after it succeeds). For AML online
    deployments, raise `liveness_probe.initial_delay` in the deployment YAML.
    """
    for pod in ctx.pods():
        for view in containers(pod):
            kills = _liveness_kills(ctx, pod, view)
            if kills is None:
                continue
            probe = settings(view.probe("liveness") or {})
            ran = _startup_too_slow(view, probe)
            if ran is None:
                continue
            target = max(600, 3 * probe.budget)
            threshold = math.ceil(target / probe.period)
            handler = view.probe("liveness") or {}
            handler_yaml = _handler_yaml(handler)
            if is_aml_pod(pod):
                fix = (
                    "AML online deployments have no startupProbe setting: in the deployment YAML, "
                    f"delay the liveness probe past the model load ({target}s):\n"
                    f"liveness_probe:\n  initial_delay: {target}\n  period: {probe.period}\n"
                    f"  failure_threshold: {probe.failure_threshold}"
                )
            else:
                fix = (
                    f"Add a startupProbe that allows {target}s for start-up (liveness begins after "
                    "it succeeds):\n"
                    f"startupProbe:\n{handler_yaml}  periodSeconds: {probe.period}\n  "
                    f"failureThreshold: {threshold}"
                )
            yield ctx.finding(
                pod,
                message=(
                    f"container {view.name} in pod {pod_label(pod)} was killed after {ran}s by its "
                    "liveness probe, "
                    f"whose budget is {probe.budget}s (initialDelaySeconds {probe.initial_delay} + "
                    "failureThreshold "
                    f"{probe.failure_threshold} x periodSeconds {probe.period}), with no "
                    f"startupProbe: start-up takes longer ({kills[1]})"
                ),
                evidence={
                    "container": view.name,
                    "ran_seconds": ran,
                    "budget_seconds": probe.budget,
                    "restart_count": view.restart_count,
                    "probe_settings": probe.to_dict(),
                    "suggested_startup_seconds": target,
                    "suggested_failure_threshold": threshold,
                },
                remediation=fix,
            )


def _handler_yaml(probe: dict) -> str:
    """The probe's handler as indented YAML lines, reused in the suggested startupProbe."""
    for key in ("httpGet", "tcpSocket", "grpc"):
        body = probe.get(key)
        if isinstance(body, dict):
            lines = "".join(f"    {k}: {v}\n" for k, v in body.items() if isinstance(v, (str, int)))
            return f"  {key}:\n{lines}"
    command = (
        as_dict(probe.get("exec")).get("command") if isinstance(probe.get("exec"), dict) else None
    )
    if isinstance(command, list):
        return "  exec:\n    command: [" + ", ".join(f'"{c}"' for c in command) + "]\n"
    return "  <same handler as the livenessProbe>\n"


@rule("AMD304", "probe-port-not-exposed", severity="warning", needs=("Pod",))
def probe_port_not_exposed(ctx: Context):
    """
    ## What it does
    Checks the port of every HTTP, TCP and gRPC probe: a named port that the container does not
    declare (error: the kubelet cannot resolve it, so the probe always fails), or a number that
    is not among the container's declared ports (warning).

    ## Why is this bad?
    A probe on the wrong port fails with "connection refused" although the server is healthy:
    readiness keeps the pod out of its Service and liveness kills it.

    ## Example
    `readiness probe of container model in pod ml/scorer-0 uses named port "http", but the
    container declares only 5001 (no name)`

    ## How to fix
    Point the probe at the port the server listens on, or declare the port with that name in
    `ports:`.
    """
    for pod in ctx.pods():
        for view in containers(pod):
            numbers, names = container_ports(view.spec)
            declared = sorted(str(n) for n in numbers) + sorted(names)
            for kind in ("liveness", "readiness", "startup"):
                probe_obj = view.probe(kind)
                if probe_obj is None:
                    continue
                probe = settings(probe_obj)
                port = probe.port
                if isinstance(port, str) and not port.isdigit():
                    if port in names:
                        continue
                    severity, problem = (
                        "error",
                        f'uses named port "{port}", which the container does not declare',
                    )
                else:
                    if port is None or not numbers or int(port) in numbers:
                        continue
                    severity, problem = (
                        "warning",
                        f"uses port {port}, which is not among the container's ports",
                    )
                yield ctx.finding(
                    pod,
                    message=(
                        f"{kind} probe of container {view.name} in pod {pod_label(pod)} {problem} "
                        f"(declared: {', '.join(declared) or 'none'})"
                    ),
                    evidence={
                        "container": view.name,
                        "probe": kind,
                        "port": port,
                        "declared_ports": declared,
                    },
                    remediation=(
                        f"Set {kind}Probe.{probe.handler}.port to the port the server listens on "
                        f"({', '.join(declared) or 'declare it under ports:'}), e.g.\nports:\n- "
                        f"name: http\n  containerPort: {sorted(numbers)[0] if numbers else 8080}"
                    ),
                    severity=severity,
                )


@rule("AMD305", "readiness-probe-missing", severity="warning", needs=("Pod",))
def readiness_probe_missing(ctx: Context):
    """
    ## What it does
    Finds pods that serve traffic (selected by a Service in the snapshot, or run by a
    Deployment or StatefulSet and declaring container ports) where no container has a readiness
    probe. Batch pods (Jobs, Volcano and AML training pods) are never reported.

    ## Why is this bad?
    Without a readiness probe a pod receives traffic as soon as its process starts, before the
    model is loaded: the first requests of every rollout and restart fail.

    ## Example
    `pod ml/scorer-6d9f7c-abcde serves traffic (Service scorer) but no container has a
    readinessProbe`

    ## How to fix
    Add a readinessProbe on the serving container that succeeds only once the model is loaded.
    """
    services = ctx.objects("Service")
    for pod in ctx.pods():
        if (
            is_terminal(pod)
            or is_batch_pod(ctx.snapshot, pod)
            or meta(pod).get("namespace") in SYSTEM_NAMESPACES
        ):
            continue
        views = [v for v in containers(pod) if not v.init and v.spec]
        if not views or any(v.probe("readiness") for v in views):
            continue
        selecting = sorted(meta(s).get("name", "") for s in services if _selects(s, pod))
        ported = [v for v in views if container_ports(v.spec)[0]]
        owner = ctx.owner_ref(pod)
        if not selecting and not (
            ported and owner.kind in ("Deployment", "StatefulSet", "ReplicaSet")
        ):
            continue
        why = (
            f"Service {', '.join(selecting)}"
            if selecting
            else f"{owner.kind} {owner.name} with container ports"
        )
        target = ported[0] if ported else views[0]
        port = sorted(container_ports(target.spec)[0])[0] if ported else 8080
        yield ctx.finding(
            pod,
            message=f"pod {pod_label(pod)} serves traffic ({why}) but no container has a "
            "readinessProbe",
            evidence={"services": selecting, "containers": [v.name for v in views]},
            remediation=(
                f"Add a readinessProbe to container {target.name} that succeeds once the model is "
                f"loaded:\nreadinessProbe:\n  httpGet:\n    path: /ready\n    port: {port}\n  "
                "periodSeconds: 10\n  failureThreshold: 3"
            ),
        )


def _selects(service: dict, pod: dict) -> bool:
    spec = service.get("spec") or {}
    selector = spec.get("selector") or {}
    if not selector or meta(service).get("namespace") != meta(pod).get("namespace"):
        return False
    labels = meta(pod).get("labels") or {}
    return all(labels.get(k) == v for k, v in selector.items())
