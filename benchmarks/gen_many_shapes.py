"""The 2,000-node "many shapes" cluster: Pending pods that each ask a slightly different question.

`gen_cluster.py` gives each cause of Pending one shape, so a scan runs about eight scheduling
simulations however many pods wait. Real clusters are not that kind: AML instance types, user
resource requests and job sizes differ, and every distinct request is a separate simulation
over every node. This variant of the generator keeps the same cluster and the same causes but
spreads the Pending pods over about `--shapes` distinct request shapes (cpu and memory stepped
per variant, the cause unchanged), each with the scheduler's own verdict for that shape.

    python benchmarks/gen_many_shapes.py /tmp/many-shapes            # 2,000 nodes, ~80 shapes

Kept apart from `gen_cluster.py` so both can change without stepping on each other.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import gen_cluster
from gen_cluster import (
    MIB,
    PENDING_CASES,
    Generator,
    PendingCase,
    Scale,
    write_with_info,
)

# The reference: 2,000 nodes, 20,000 pods, 20,000 events, about 200 Pending pods.
MANY_SHAPES_SCALE = Scale(nodes=2000, pods=20000, events=20000, pending_share=0.0125)
SHAPES = 80


def variants(
    cases: tuple[PendingCase, ...], count: int, shapes: int
) -> list[tuple[PendingCase, str]]:
    """Each cause split into variants of distinct requests, about `shapes` in all, by cause.

    A variant asks for 50m cpu and 64 MiB more than the one before: the cause of Pending stays
    what it was (taints, selectors, GPU counts and memory beyond any node do not depend on it),
    but no two variants share a scheduling question.
    """
    out: list[tuple[PendingCase, str]] = []
    for case in cases:
        pods = max(1, round(count * case.share))
        n = max(1, min(pods, round(pods * shapes / count)))
        for k in range(n):
            shape = dataclasses.replace(
                case.shape,
                cpu_m=case.shape.cpu_m + 50 * k,
                memory_mi=case.shape.memory_mi + 64 * k,
            )
            name = case.name if k == 0 else f"{case.name}-v{k}"
            variant = PendingCase(name, case.share / n, shape, case.scheduler, case.gated, case.pvc)
            out.append((variant, case.name))
    return out


class ManyShapesGenerator(Generator):
    """`Generator` with each cause's Pending pods spread over distinct request shapes."""

    shapes = SHAPES

    def build_pending(self, count: int) -> None:
        split = variants(PENDING_CASES, count, self.shapes)
        saved = gen_cluster.PENDING_CASES
        gen_cluster.PENDING_CASES = tuple(c for c, _ in split)  # what the base class iterates over
        try:
            super().build_pending(count)
        finally:
            gen_cluster.PENDING_CASES = saved
        by_cause: dict[str, list] = {}
        for case, cause in split:  # the summary by cause, as `gen_cluster` writes it
            by_cause.setdefault(cause, []).extend(self.info["pending"].pop(case.name))
        self.info["pending"].update(by_cause)
        self.info["pending_shapes"] = len(split)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="bundle directory, or a path ending in .tar.gz")
    parser.add_argument("--scale", type=float, default=1.0, help="1: 2,000 nodes")
    parser.add_argument("--shapes", type=int, default=SHAPES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--info", type=Path, help="also write the summary as JSON here")
    args = parser.parse_args(argv)
    gen = ManyShapesGenerator(MANY_SHAPES_SCALE.scaled(args.scale), args.seed)
    gen.shapes = args.shapes
    snap = gen.build()
    info = gen.info
    summary = write_with_info(snap, info, args.output, args.info)
    pending = sum(map(len, info["pending"].values()))
    print(
        f"{summary}, {pending} Pending pods of {info['pending_shapes']} shapes, "
        f"{info['bytes'] / MIB:.1f} MiB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
