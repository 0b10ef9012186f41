"""Where `scan -A`'s memory is: tracemalloc's top allocation sites, loaded and analysed.

Runs `scan -A` in this process under tracemalloc and prints, by source line, what is alive
(1) once the snapshot is loaded and (2) when the report is about to be rendered (the snapshot,
its indexes, the rules' shared state and the findings all alive: the peak of a scan, bar
rendering), with tracemalloc's own peak. Under tracemalloc everything runs 2 to 3 times slower;
the sizes are Python's own accounting (objects, not the pages the process holds).

    python benchmarks/memory_sites.py /tmp/amldoctor-bench/cluster-x1-seed1 [--top 15]
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

MIB = 1024**2


def top(snapshot: tracemalloc.Snapshot, title: str, count: int) -> None:
    stats = snapshot.statistics("lineno")
    total = sum(s.size for s in stats)
    out = sys.__stdout__  # the scan's own output goes to /dev/null meanwhile
    print(f"\n### {title}: {total / MIB:.0f} MiB traced\n", file=out)
    print("| MiB | share | blocks | allocated at |\n|---:|---:|---:|---|", file=out)
    for stat in stats[:count]:
        frame = stat.traceback[0]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        line = f"| {stat.size / MIB:.1f} | {stat.size / total:.0%} | {stat.count} | `{where}` |"
        print(line, file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)

    import amldoctor.commands.output as output
    from amldoctor.cli import main as cli
    from amldoctor.load import load_snapshot

    tracemalloc.start()
    snap = load_snapshot(args.bundle)
    top(tracemalloc.take_snapshot(), "loaded (load_snapshot)", args.top)
    del snap
    tracemalloc.reset_peak()

    emit = output.emit

    def measured_emit(result, fmt, out=None):  # type: ignore[no-untyped-def]
        top(tracemalloc.take_snapshot(), "scan -A, before rendering", args.top)
        emit(result, fmt, out)

    output.emit = measured_emit
    sys.argv = ["amldoctor", "scan", "--snapshot", str(args.bundle), "-A", "-o", "json"]
    stdout = sys.stdout
    try:
        sys.stdout = open("/dev/null", "w")  # noqa: SIM115
        cli()
    except SystemExit:
        pass
    finally:
        sys.stdout.close()
        sys.stdout = stdout
    print(f"\ntracemalloc peak during the scan: {tracemalloc.get_traced_memory()[1] / MIB:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
