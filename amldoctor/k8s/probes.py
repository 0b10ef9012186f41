"""Probe settings with the kubelet's defaults, and how long a probe lets a container live.

A liveness probe kills a container after `initialDelaySeconds + failureThreshold x
periodSeconds` (plus up to one timeout) of failing from its start. A model server that loads a
large model for longer than that is killed in a loop although nothing is wrong with it.
"""

from __future__ import annotations

from dataclasses import dataclass

# Defaults the API server fills in when the field is omitted.
DEFAULTS = {
    "initialDelaySeconds": 0,
    "periodSeconds": 10,
    "timeoutSeconds": 1,
    "failureThreshold": 3,
    "successThreshold": 1,
}
HANDLERS = ("httpGet", "tcpSocket", "grpc", "exec")


@dataclass(frozen=True)
class ProbeSettings:
    handler: str  # httpGet | tcpSocket | grpc | exec | none
    target: str  # ':8080/healthz', 'exec cat /tmp/ready', ...
    port: int | str | None
    initial_delay: int
    period: int
    timeout: int
    failure_threshold: int

    @property
    def budget(self) -> int:
        """Seconds from container start until failing probes end it (liveness/startup)."""
        return self.initial_delay + self.failure_threshold * self.period

    def describe(self) -> str:
        return (
            f"{self.handler} {self.target}, initialDelaySeconds {self.initial_delay}, "
            f"periodSeconds {self.period}, timeoutSeconds {self.timeout}, "
            f"failureThreshold {self.failure_threshold}"
        ).replace("  ", " ")

    def to_dict(self) -> dict:
        return {
            "handler": self.handler,
            "target": self.target,
            "initialDelaySeconds": self.initial_delay,
            "periodSeconds": self.period,
            "timeoutSeconds": self.timeout,
            "failureThreshold": self.failure_threshold,
            "budget_seconds": self.budget,
        }


def _int(probe: dict, key: str) -> int:
    value = probe.get(key)
    return value if isinstance(value, int) and value >= 0 else DEFAULTS[key]


def settings(probe: dict) -> ProbeSettings:
    """Read a probe object; missing fields take the API defaults, odd values are ignored."""
    handler = next((h for h in HANDLERS if isinstance(probe.get(h), dict)), "none")
    body = probe.get(handler) if handler != "none" else None
    body = body if isinstance(body, dict) else {}
    port = body.get("port")
    if handler == "httpGet":
        target = f":{port}{body.get('path') or '/'}"
    elif handler in ("tcpSocket", "grpc"):
        target = f":{port}"
    elif handler == "exec":
        command = body.get("command") if isinstance(body, dict) else None
        target = " ".join(str(c) for c in command) if isinstance(command, list) else ""
    else:
        target = ""
    return ProbeSettings(
        handler=handler,
        target=target,
        port=port if isinstance(port, (int, str)) else None,
        initial_delay=_int(probe, "initialDelaySeconds"),
        period=max(1, _int(probe, "periodSeconds")),
        timeout=_int(probe, "timeoutSeconds"),
        failure_threshold=max(1, _int(probe, "failureThreshold")),
    )


def container_ports(container: dict) -> tuple[set[int], set[str]]:
    """Declared container ports: numbers and names."""
    numbers: set[int] = set()
    names: set[str] = set()
    ports = container.get("ports")
    for p in ports if isinstance(ports, list) else ():
        if not isinstance(p, dict):
            continue
        if isinstance(p.get("containerPort"), int):
            numbers.add(p["containerPort"])
        if p.get("name"):
            names.add(str(p["name"]))
    return numbers, names
