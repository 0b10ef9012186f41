"""Filter with nominated pods (upstream `RunFilterPluginsWithNominatedPods`).

A pod that preempted carries `status.nominatedNodeName` while its victims terminate; the
scheduler keeps room for it. When it filters another pod on that node, it first adds every pod
nominated there with equal or higher priority (`addGENominatedPods`: to the node, and through
the PreFilter extensions AddPod to the affinity, spread and volume counts), runs the filters,
and, if they all pass, runs them once more without those pods (a pod with affinity to a
nominated pod must not count on it). The first pass that fails decides the node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from amldoctor.scheduling.cluster import NodeInfo
from amldoctor.scheduling.plugins import Plugin
from amldoctor.scheduling.status import Status


def run_filters(plugins: Sequence[Plugin], node: NodeInfo, *, every: bool = True) -> list[Status]:
    """The failing statuses of `plugins` on `node`, in order (only the first unless `every`)."""
    failures = []
    for plugin in plugins:
        status = plugin.filter(node)
        if status is not None:
            failures.append(status)
            if not every:
                break
    return failures


def with_nominated(
    plugins: Sequence[Plugin], node: NodeInfo, nominated: Sequence[Mapping]
) -> tuple[list[Plugin], NodeInfo]:
    """Copies of the plugins and the node with the nominated pods added (`addGENominatedPods`)."""
    copies = [p.clone() for p in plugins]
    grown = node.plus(nominated)
    for pod in nominated:
        for plugin in copies:
            plugin.add_pod(pod, grown)
    return copies, grown


def run_filters_with_nominated(
    plugins: Sequence[Plugin],
    node: NodeInfo,
    nominated: Sequence[Mapping],
    *,
    every: bool = True,
) -> list[Status]:
    """`RunFilterPluginsWithNominatedPods`: the failing statuses of the pass that decides."""
    if nominated:
        copies, grown = with_nominated(plugins, node, nominated)
        failures = run_filters(copies, grown, every=every)
        if failures:
            return failures
    return run_filters(plugins, node, every=every)
