"""Time amldoctor's live collection against kubectl reading the same kinds (not part of the tests).

    python benchmarks/collect_vs_kubectl.py [--kubeconfig PATH] [--context NAME] [-n NS | -A]
                                            [--repeat 3]

Runs `collect()` and then `kubectl get <the same kinds> -o json` (one kubectl call per scope:
the namespace, cluster-scoped kinds, the node-bound pods, the azureml namespace), alternating,
`--repeat` times, and prints each run, the medians and kubectl/amldoctor. Only kinds the cluster
served to amldoctor are asked of kubectl (kubectl fails the whole call on an unknown type).
Secrets are left out of the kubectl side: kubectl would read their data, amldoctor never does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from amldoctor.collect import LiveOptions
from amldoctor.collect.collector import collect
from amldoctor.collect.kinds import (
    AZUREML_NAMESPACE,
    BOUND_PODS,
    CLUSTER_SCOPED,
    EXTENSION,
    NAMESPACED,
    SECRET,
    Resource,
)


def kubectl_name(res: Resource) -> str:
    group = res.api_version.split("/")[0] if "/" in res.api_version else ""
    return f"{res.plural}.{group}" if group else res.plural


def kubectl_calls(
    args: argparse.Namespace, collected: set[str], namespace: str | None
) -> list[list[str]]:
    base = ["kubectl"]
    if args.kubeconfig:
        base += ["--kubeconfig", args.kubeconfig]
    if args.context:
        base += ["--context", args.context]

    def served(resources: tuple[Resource, ...]) -> str:
        names = [kubectl_name(r) for r in resources if r.name in collected and r is not SECRET]
        return ",".join(names)

    scope = ["-A"] if namespace is None else ["-n", namespace]
    calls = [[*base, "get", served(NAMESPACED), *scope, "-o", "json"]]
    if served(CLUSTER_SCOPED):
        calls.append([*base, "get", served(CLUSTER_SCOPED), "-o", "json"])
    if namespace is not None:
        calls.append([*base, "get", "pods", "-A", f"--field-selector={BOUND_PODS}", "-o", "json"])
        if namespace != AZUREML_NAMESPACE:
            calls.append([*base, "get", served(EXTENSION), "-n", AZUREML_NAMESPACE, "-o", "json"])
    return calls


def run_kubectl(calls: list[list[str]]) -> tuple[float, int]:
    start = time.perf_counter()
    items = 0
    for call in calls:
        out = subprocess.run(call, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            sys.exit(f"{' '.join(call)} failed: {out.stderr.strip()}")
        items += len(json.loads(out.stdout).get("items", []))
    return time.perf_counter() - start, items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig")
    parser.add_argument("--context")
    parser.add_argument("-n", "--namespace")
    parser.add_argument("-A", "--all-namespaces", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    opts = LiveOptions(
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespace=args.namespace,
        all_namespaces=args.all_namespaces,
        request_timeout=30.0,
    )

    ours: list[float] = []
    theirs: list[float] = []
    for i in range(args.repeat):
        start = time.perf_counter()
        snap = collect(opts)
        ours.append(time.perf_counter() - start)
        calls = kubectl_calls(args, snap.collected_kinds or set(), snap.namespace)
        elapsed, items = run_kubectl(calls)
        theirs.append(elapsed)
        print(
            f"run {i + 1}: amldoctor {ours[-1]:.3f}s ({len(snap.objects)} objects, "
            f"{len(snap.missing)} kinds not read) | kubectl {elapsed:.3f}s ({items} items, "
            f"{len(calls)} calls)"
        )
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    print(f"median: amldoctor {ours_median:.3f}s, kubectl {theirs_median:.3f}s")
    print(f"kubectl / amldoctor = {theirs_median / ours_median:.2f}x")


if __name__ == "__main__":
    main()
