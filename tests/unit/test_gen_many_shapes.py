"""The many-shapes benchmark generator: distinct questions, each with the scheduler's verdict.

The verdicts are checked against amldoctor's own simulation (`agrees_with_scheduler`), as
`docs/performance.md` says of the reference generator: a variant that kept its cause's first
verdict would be caught here.
"""

from __future__ import annotations

import json

from amldoctor.whypending import analyze
from tests.conftest import benchmark_module

gen_cluster = benchmark_module("gen_cluster")
many = benchmark_module("gen_many_shapes")


def test_pending_pods_ask_distinct_questions_with_their_own_verdicts():
    gen = many.ManyShapesGenerator(gen_cluster.Scale(nodes=60, pods=2400, events=2000), seed=3)
    gen.shapes = 16
    snap = gen.build()
    info = gen.info
    assert set(info["pending"]) == {c.name for c in gen_cluster.PENDING_CASES}
    assert gen_cluster.PENDING_CASES == many.PENDING_CASES  # restored after building
    # missing-pvc is left out: `gen_cluster.record_scheduler_verdicts` keeps one message per
    # cause, and that message names the first pod's claim, so the other pods' recorded verdicts
    # are wrong in the base generator too (every variant here has its own, still per cause).
    judged = {
        c.name
        for c in gen_cluster.PENDING_CASES
        if c.scheduler == "default-scheduler" and not c.gated and not c.pvc
    }
    asked = [
        snap.get("Pod", ns, name)
        for cause, pods in info["pending"].items()
        if cause in judged
        for ns, name in pods
    ]
    shapes = {json.dumps(p["spec"]["containers"][0]["resources"], sort_keys=True) for p in asked}
    assert len(shapes) >= 8, shapes
    assert info["pending_shapes"] >= 12
    for pod in asked:
        doc = analyze(snap, pod)
        assert doc["agrees_with_scheduler"] is True, (pod["metadata"]["name"], doc)
