"""Scheduler plugins are named once and carry how why-pending presents them.

Adding a plugin should touch one file: its name constant comes from `scheduling/names.py`, its
column label, funnel text, funnel position and advice sit on the class. These tests check every
default plugin carries them and that no other module spells a plugin name as a literal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import amldoctor
from amldoctor.scheduling import names
from amldoctor.scheduling.plugins import (
    ADVICE,
    DEFAULT_FILTERS,
    FUNNEL_ORDER,
    SHORT_LABELS,
    Plugin,
)

PACKAGE = Path(amldoctor.__file__).parent
PLUGIN_NAMES = {v for k, v in vars(names).items() if k.isupper() and k != "FRAMEWORK"}
# `NodeAffinity` is also a kubelet admission reason on Pod events (not the scheduler plugin).
LITERAL_ALLOWED = {("whypending/state.py", "NodeAffinity")}


@pytest.mark.parametrize("plugin", DEFAULT_FILTERS, ids=lambda p: p.name)
def test_each_plugin_carries_its_presentation(plugin: type[Plugin]) -> None:
    assert plugin.name in PLUGIN_NAMES
    assert plugin.short and plugin.funnel and plugin.funnel_rank > 0
    assert SHORT_LABELS[plugin.name] == plugin.short
    assert (plugin.name, plugin.funnel) in FUNNEL_ORDER
    assert ADVICE.get(plugin.name, "") == plugin.advice


def test_funnel_ranks_and_labels_are_distinct() -> None:
    assert len({p.funnel_rank for p in DEFAULT_FILTERS}) == len(DEFAULT_FILTERS)
    assert len({p.short for p in DEFAULT_FILTERS}) == len(DEFAULT_FILTERS)


def test_the_funnel_reads_selector_first_and_room_last() -> None:
    order = [name for name, _ in FUNNEL_ORDER]
    assert order[0] == names.NODE_AFFINITY
    assert order[-1] == names.NODE_RESOURCES_FIT
    assert order.index(names.TAINT_TOLERATION) < order.index(names.NODE_UNSCHEDULABLE)


def test_only_names_py_spells_a_plugin_name() -> None:
    spelled = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = str(path.relative_to(PACKAGE))
        if rel == "scheduling/names.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Constant)
                and node.value in PLUGIN_NAMES
                and (rel, node.value) not in LITERAL_ALLOWED
            ):
                spelled.append(f"{rel}:{node.lineno} {node.value}")
    assert spelled == []
