"""NodePorts: a wanted hostPort conflicts with one already used on the node."""

from __future__ import annotations

from amldoctor.scheduling import names
from amldoctor.scheduling.cluster import NodeInfo, host_ports, pod_key
from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.status import SUCCESS, Code, PreFilterOutcome, Status, fail

PORTS_REASON = "node(s) didn't have free ports for the requested pod ports"
ALL_IPS = "0.0.0.0"


class NodePorts(Plugin):
    name = names.NODE_PORTS
    short = "ports"
    funnel = "have the host ports free"
    funnel_rank = 9
    advice = (
        "another pod holds the hostPort there: drop hostPort (use a Service) or pick another port"
    )

    def __init__(self, cluster) -> None:
        super().__init__(cluster)
        self.wanted = host_ports(self.pod)

    def pre_filter(self) -> PreFilterOutcome:
        return SUCCESS if self.wanted else PreFilterOutcome.skip()

    def filter(self, node: NodeInfo) -> Status | None:
        if not self.wanted:
            return None
        used = node.used_ports
        if not used:
            return None
        for ip, proto, port in self.wanted:
            holder = _conflict(used, ip, proto, port)
            if holder is not None:
                ns, name = pod_key(holder)
                return fail(
                    self.name,
                    Code.UNSCHEDULABLE,
                    PORTS_REASON,
                    f"hostPort {port}/{proto} on {ip} is already used on node {node.name} "
                    f"by pod {ns}/{name}",
                    port=port,
                    protocol=proto,
                    host_ip=ip,
                    used_by=f"{ns}/{name}",
                )
        return None


def _conflict(used: dict, ip: str, proto: str, port: int):
    """`HostPortInfo.CheckConflict`: 0.0.0.0 clashes with any IP; others with theirs and 0.0.0.0."""
    if ip == ALL_IPS:
        for (_ip, u_proto, u_port), holder in used.items():
            if u_proto == proto and u_port == port:
                return holder
        return None
    for candidate in (ALL_IPS, ip):
        holder = used.get((candidate, proto, port))
        if holder is not None:
            return holder
    return None
