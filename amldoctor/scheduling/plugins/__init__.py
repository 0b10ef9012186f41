"""The default filter plugins, in the default profile's Filter order."""

from amldoctor.scheduling.plugins.base import Plugin
from amldoctor.scheduling.plugins.dynamicresources import DynamicResources
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
    DynamicResources,  # inserted before DefaultPreemption when DRA is on: last of the filters
)

# How why-pending presents the plugins, read off the plugins themselves (see `Plugin`).
FUNNEL_ORDER: tuple[tuple[str, str], ...] = tuple(
    (p.name, p.funnel) for p in sorted(DEFAULT_FILTERS, key=lambda p: p.funnel_rank)
)
ADVICE: dict[str, str] = {p.name: p.advice for p in DEFAULT_FILTERS if p.advice}
SHORT_LABELS: dict[str, str] = {p.name: p.short for p in DEFAULT_FILTERS}

__all__ = ["ADVICE", "DEFAULT_FILTERS", "FUNNEL_ORDER", "SHORT_LABELS", "Plugin"]
