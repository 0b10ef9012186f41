"""Live `scan -n NS` against `kubectl get pods,events,pvc -n NS -o json`, same API server.

Starts the e2e control plane (real etcd, kube-apiserver and kube-scheduler, see
`tests/e2e/README.md`), fills it with a 10,000-pod cluster (by default 500 nodes, 20 namespaces
of 500 pods, each with 500 events; a few pods of one namespace Pending because nothing fits
them, with the scheduler's own FailedScheduling verdicts), then measures, one process at a time
and alternating:

- `amldoctor scan -n busy` (a namespace with Pending pods: the node-bound pods of every other
  namespace must be read) and `scan -n quiet` (nothing waits: they need not be), each against
  `kubectl get pods,events,pvc -n NS -o json`, the cheapest way a person reads that namespace;
- the same scans reading the other namespaces' pods whatever waits (what scan did before), as
  the in-process baseline.

    python benchmarks/live_scan.py [--pods 10000] [--runs 3]

Wall time and CPU time are both given: both sides wait for the same API server, whose own CPU
neither process's rusage counts, and on a shared 2-core machine wall time moves with the load.

Each amldoctor copy is byte-compiled first (`compileall`), as an installed package is by pip:
a session with PYTHONDONTWRITEBYTECODE set (as CI and these sessions have) would otherwise
compile every module from source on each run, 0.2 s of CPU that no installed copy pays.
Not part of the tests.
"""

from __future__ import annotations

import argparse
import compileall
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))

from harness import ControlPlane, binaries_dir  # noqa: E402
from objects import node_manifest, pod_manifest  # noqa: E402
from run import machine, run_once  # noqa: E402

BUSY, QUIET = "busy", "quiet"
# The scan as it was: the node-bound pods of every namespace listed whatever waits.
ALWAYS = """
import sys
sys.path.insert(0, sys.argv.pop(1))
from amldoctor.collect import collector
collector.collect = lambda opts, settled=None: collector.collect_live(opts).snapshot
from amldoctor.cli import main
sys.argv = ["amldoctor", *sys.argv[1:]]
main()
"""


def populate(plane: ControlPlane, nodes: int, pods: int, namespaces: int, pending: int) -> None:
    """Nodes, namespaces of bound pods with events, and `pending` pods that fit nowhere."""
    kube = plane.client()
    names = [BUSY, QUIET, *(f"team-{i:02d}" for i in range(namespaces - 2))]
    per_ns = pods // namespaces
    t0 = time.monotonic()

    def node(i: int) -> None:
        kube.create("/api/v1/nodes", node_manifest(f"node-{i:04d}", cpu="64", memory="256Gi"))

    def namespace(ns: str) -> None:
        kube.create("/api/v1/namespaces", {"metadata": {"name": ns}})

    def pod(ns: str, i: int) -> None:
        manifest = pod_manifest(
            f"worker-{i:05d}",
            node_name=f"node-{(i * 7 + sum(map(ord, ns))) % nodes:04d}",
            requests={"cpu": "100m", "memory": "256Mi"},
            labels={"app": f"app-{i % 25}"},
        )
        kube.create(f"/api/v1/namespaces/{ns}/pods", manifest)
        kube.create(f"/api/v1/namespaces/{ns}/events", _event(ns, manifest, i))

    def waiting(i: int) -> None:
        manifest = pod_manifest(f"trainer-{i:03d}", requests={"cpu": "96"})
        kube.create(f"/api/v1/namespaces/{BUSY}/pods", manifest)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(node, range(nodes)))
        list(pool.map(namespace, names))
        jobs = [(ns, i) for ns in names for i in range(per_ns - (pending if ns == BUSY else 0))]
        list(pool.map(lambda job: pod(*job), jobs))
        list(pool.map(waiting, range(pending)))
    print(
        f"populated {nodes} nodes, {len(jobs) + pending} pods, {len(jobs)} events in "
        f"{time.monotonic() - t0:.0f} s",
        file=sys.stderr,
        flush=True,
    )


def _event(ns: str, pod: dict, i: int) -> dict:
    name = pod["metadata"]["name"]
    return {
        "metadata": {"name": f"{name}.{i:08x}", "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": name},
        "reason": "Pulled",
        "message": f'Container image "registry.k8s.io/pause:3.10" already present on machine ({i})',
        "type": "Normal",
        "source": {"component": "kubelet", "host": pod["spec"]["nodeName"]},
        "firstTimestamp": "2026-12-01T00:00:00Z",
        "lastTimestamp": "2026-12-01T00:00:00Z",
        "count": 1,
    }


# Another copy of amldoctor (an exported older commit: `git archive REV amldoctor | tar -x`).
OTHER = """
import sys
sys.path.insert(0, sys.argv.pop(1))
from amldoctor.cli import main
sys.argv = ["amldoctor", *sys.argv[1:]]
main()
"""


def commands(
    plane: ControlPlane, amldoctor: str | None, other: str | None = None
) -> dict[str, tuple[list[str], tuple]]:
    """Every copy of amldoctor is started the same way: this checkout and `other` from their
    source trees put first on sys.path (unless an installed command is given). Run through an
    editable install's console script, the same code measured 0.15-0.2 s of CPU more per run
    than from its tree (the editable import hook), a quarter of a quiet namespace's scan, which
    no installed wheel pays."""
    config = str(plane.kubeconfig())
    python = sys.executable
    here = str(HERE.parent)
    out: dict[str, tuple[list[str], tuple]] = {}
    for ns in (BUSY, QUIET):
        kubectl = ["kubectl", "--kubeconfig", config, "get", "pods,events,pvc", "-n", ns]
        scan = ["scan", "--kubeconfig", config, "-n", ns, "-o", "json"]
        out[f"kubectl get pods,events,pvc -n {ns} -o json"] = ([*kubectl, "-o", "json"], (0,))
        this = [amldoctor] if amldoctor else [python, "-c", OTHER, here]
        out[f"scan -n {ns}"] = ([*this, *scan], (0, 1))
        if other:
            out[f"scan -n {ns}, amldoctor in {other}"] = (
                [python, "-c", OTHER, other, *scan],
                (0, 1),
            )
        out[f"scan -n {ns}, every namespace's bound pods (before)"] = (
            [python, "-c", ALWAYS, here, *scan],
            (0, 1),
        )
    return out


def byte_compile(*packages: Path) -> None:
    """Write the bytecode an installed copy has (see the module docstring)."""
    for package in packages:
        compileall.compile_dir(str(package), quiet=1)


def measure_alternating(cmds: dict, runs: int, timeout: float) -> dict[str, dict[str, float]]:
    """Each command once per round, rounds repeated: the machine's load hits all alike."""
    samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label in cmds}
    for r in range(runs):
        for label, (argv, ok) in cmds.items():
            seconds, usage, code, _, err = run_once(argv, timeout)
            if code not in ok:
                sys.exit(f"{label}: exit {code}: {err.strip()[-400:]}")
            cpu = usage.ru_utime + usage.ru_stime
            samples[label].append((seconds, cpu, usage.ru_maxrss / 1024))
            print(f"  run {r + 1} {label}: {seconds:.2f} s, {cpu:.2f} s CPU", file=sys.stderr)
    median = statistics.median
    return {
        label: {
            "wall": median(s[0] for s in rows),
            "cpu": median(s[1] for s in rows),
            "rss": median(s[2] for s in rows),
        }
        for label, rows in samples.items()
    }


def report(results: dict[str, dict[str, float]]) -> None:
    print("| measurement | wall (s) | CPU (s) | × kubectl (wall / CPU) | peak RSS (MiB) |")
    print("|---|---:|---:|---:|---:|")
    for label, r in results.items():
        ns = BUSY if f" {BUSY}" in label else QUIET
        base = results[f"kubectl get pods,events,pvc -n {ns} -o json"]
        ratio = f"{r['wall'] / base['wall']:.2f} / {r['cpu'] / base['cpu']:.2f}"
        print(f"| {label} | {r['wall']:.2f} | {r['cpu']:.2f} | {ratio} | {r['rss']:.0f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--pending", type=int, default=10, help="Pending pods in namespace busy")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--amldoctor", help="an installed amldoctor command to time (default: this checkout)"
    )
    parser.add_argument(
        "--compare-with", help="a directory holding another amldoctor package, to time it too"
    )
    parser.add_argument("--no-machine", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if not args.no_machine:  # run.py has printed it
        print(f"Machine: {machine()}\n")
    plane = ControlPlane(binaries_dir())
    try:
        plane.start()
        populate(plane, args.nodes, args.pods, args.namespaces, args.pending)
        time.sleep(5)  # let the scheduler write its verdicts on the Pending pods
        print(
            f"## Live: {args.nodes} nodes, {args.pods} pods in {args.namespaces} namespaces of "
            f"{args.pods // args.namespaces} ({args.pending} Pending in {BUSY}); API server "
            f"{plane.version}; median of {args.runs} alternating runs\n"
        )
        cmds = commands(plane, args.amldoctor, args.compare_with)
        import amldoctor

        others = [Path(args.compare_with) / "amldoctor"] if args.compare_with else []
        byte_compile(HERE.parent / "amldoctor", Path(amldoctor.__file__).parent, *others)
        results = measure_alternating(cmds, args.runs, args.timeout)
        report(results)
        print("\n" + json.dumps(results))
    finally:
        plane.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
