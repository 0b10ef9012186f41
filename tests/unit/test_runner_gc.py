"""The rules run with the cyclic garbage collector paused, and it is resumed afterwards.

With it on, each full collection walked every long-lived object the rules had built
(simulations, verdicts per node, container views): a ninth of a many-shapes `scan -A`.
"""

from __future__ import annotations

import gc

import pytest

from amldoctor.engine import runner
from amldoctor.snapshot import Snapshot


@pytest.fixture
def collector_state():
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.mark.parametrize("before", [True, False])
def test_the_collector_is_paused_for_the_block_and_restored(collector_state, before):
    gc.enable() if before else gc.disable()
    with runner.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled() is before


def test_the_collector_is_restored_when_the_block_raises(collector_state):
    gc.enable()
    with pytest.raises(RuntimeError), runner.collector_paused():
        raise RuntimeError("a rule crashed")
    assert gc.isenabled()


def test_rules_run_with_the_collector_paused(collector_state, monkeypatch):
    seen: list[bool] = []
    real = runner._run_rules

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "_run_rules", recording)
    gc.enable()
    runner.run_rules(Snapshot([{"kind": "Namespace", "metadata": {"name": "a"}}]))
    assert seen == [False]
    assert gc.isenabled()
