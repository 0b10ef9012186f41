"""kube-scheduler's plugin names, spelled once (upstream keeps them in `plugins/names`).

They appear in the scheduler's messages and in amldoctor's JSON (`failures[].plugin`), so the
spelling is part of the contract: every module refers to these constants, never to a literal.
"""

from __future__ import annotations

NODE_UNSCHEDULABLE = "NodeUnschedulable"
NODE_NAME = "NodeName"
TAINT_TOLERATION = "TaintToleration"
NODE_AFFINITY = "NodeAffinity"
NODE_PORTS = "NodePorts"
NODE_RESOURCES_FIT = "NodeResourcesFit"
VOLUME_RESTRICTIONS = "VolumeRestrictions"
NODE_VOLUME_LIMITS = "NodeVolumeLimits"
VOLUME_BINDING = "VolumeBinding"
VOLUME_ZONE = "VolumeZone"
POD_TOPOLOGY_SPREAD = "PodTopologySpread"
INTER_POD_AFFINITY = "InterPodAffinity"
DEFAULT_PREEMPTION = "DefaultPreemption"
DYNAMIC_RESOURCES = "DynamicResources"
# Not a plugin: what amldoctor calls a rejection by the framework itself (a PreFilter result
# that excludes every node), so such failures have a name in the same place as the plugins'.
FRAMEWORK = "framework"
