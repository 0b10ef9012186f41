"""Exit codes and termination records turned into advice (not a rule module).

Shared by the crash, init-container and batch-failure rules so that one termination gets one
explanation: OOM kills belong to AMD201, other SIGKILLs (exit 137) to AMD206 and the probe rules
AMD302/AMD303, runtime start failures to AMD405.
"""

from __future__ import annotations

import re

from amldoctor.k8s.containers import ContainerView, dicts
from amldoctor.k8s.objects import meta

_MISSING_ENV = re.compile(r"KeyError: '([A-Za-z_][A-Za-z0-9_]*)'")
_MISSING_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")
START_FAILURES = frozenset({"StartError", "ContainerCannotRun"})
PULL_REASONS = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "RegistryUnavailable"}
)


def termination_summary(text: object) -> str:
    """The line that says what went wrong: the exception of a Python traceback, else the start."""
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        return short_text(lines[-1])
    return short_text(" ".join(lines))


def short_text(text: object, limit: int = 240) -> str:
    """First non-empty lines of a termination message, on one line, bounded."""
    one = " ".join(str(text or "").split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def termination_clause(term: dict) -> str:
    """'; termination message: ...' when the container left one, else ''."""
    if not term.get("message"):
        return ""
    return f"; termination message: {termination_summary(term.get('message'))}"


def termination_evidence(view: ContainerView, term: dict) -> dict:
    """The numbers and names a finding about a container's last exit rests on."""
    return {
        "container": view.name,
        "image": view.image,
        "exit_code": term.get("exitCode"),
        "reason": term.get("reason"),
        "termination_message": short_text(term.get("message"), 1000) or None,
        "finished_at": term.get("finishedAt"),
    }


def explained_elsewhere(term: dict) -> bool:
    """OOM kills (AMD201), SIGKILLs (AMD206, AMD302/303) and start failures (AMD405) have their own
    rules."""
    if term.get("reason") == "OOMKilled" or term.get("reason") in START_FAILURES:
        return True
    # Every exit 137 is explained by AMD206 (or AMD302/AMD303/AMD204, which it defers to).
    return term.get("exitCode") == 137


def exit_fix(term: dict, view: ContainerView, pod: dict) -> str:
    code = term.get("exitCode")
    ns, name = meta(pod).get("namespace"), meta(pod).get("name")
    previous = " --previous" if view.restart_count else ""
    logs = f"`kubectl logs -n {ns} {name} -c {view.name}{previous}`"
    message = str(term.get("message") or "")
    if "cuda out of memory" in message.lower() or "outofmemoryerror" in message.lower():
        return (
            "The GPU ran out of memory (CUDA OOM), not the container: lower the batch size, use "
            f"mixed precision or gradient checkpointing, or a GPU with more memory. Logs: {logs}."
        )
    env_key = _MISSING_ENV.search(message)
    if env_key and not any(
        e.get("name") == env_key.group(1)
        for e in dicts(view.spec.get("env"))
        if isinstance(e, dict)
    ):
        var = env_key.group(1)
        return (
            f"The code reads environment variable {var}, which container {view.name} does not set: "
            f"add it\nenv:\n- name: {var}\n  value: <value>   # or valueFrom: configMapKeyRef / "
            f"secretKeyRef\nLogs: {logs}."
        )
    module = _MISSING_MODULE.search(message)
    if module:
        return (
            f"Python module {module.group(1)!r} is not installed in image {view.image}: add it "
            f"to the image's requirements. Logs: {logs}."
        )
    if code == 127:
        return (
            f"Fix `command`/`args` of container {view.name} or install the binary in the image "
            f"({view.image}). Logs: {logs}."
        )
    if code == 126:
        return (
            f"Make the entrypoint executable (`chmod +x`) in image {view.image}, and check its "
            "architecture."
        )
    if code == 139:
        return (
            f"Native crash: check CUDA/driver compatibility of {view.image} with the node and "
            f"native extensions. Logs: {logs}."
        )
    if code == 135:
        return (
            "Give the data loader more shared memory: mount an emptyDir {medium: Memory} at "
            "/dev/shm (inside the memory limit)."
        )
    if message:
        return f"Fix what the termination message reports; full output: {logs}."
    return (
        f"Read the logs: {logs}; set terminationMessagePolicy: FallbackToLogsOnError to see the "
        "error in the pod status."
    )
