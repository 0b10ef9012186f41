"""The default filter plugins, in the default profile's Filter order."""

from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.plugins.nodeaffinity import NodeAffinity
from amldoctor.scheduling.plugins.nodeports import NodePorts
from amldoctor.scheduling.plugins.noderesources import NodeResourcesFit
from amldoctor.scheduling.plugins.podtopology import InterPodAffinity, PodTopologySpread
from amldoctor.scheduling.plugins.simple import NodeName, NodeUnschedulable, TaintToleration
from amldoctor.scheduling.plugins.volumes import (
    NodeVolumeLimits,
    VolumeBinding,
    VolumeRestrictions,
    VolumeZone,
)

DEFAULT_FILTERS: tuple[type[Plugin], ...] = (
    NodeUnschedulable,
    NodeName,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    VolumeRestrictions,
    NodeVolumeLimits,
    VolumeBinding,
    VolumeZone,
    PodTopologySpread,
    InterPodAffinity,
)

__all__ = ["DEFAULT_FILTERS", "Plugin"]
