"""What dropping `managedFields` at load saves, on a bundle whose objects carry them.

Bundles amldoctor writes never hold `managedFields` (the live collector drops them), but files
from the API, from older kubectl or from other tools do: one entry per field manager, a tree of
every field it set. This copies a generated bundle, gives each object the entries a real
cluster's would have (the creating controller over metadata and spec, the kubelet or controller
over status), and measures `load_snapshot` and `scan -A` with the drop and without it
(`amldoctor.load.drop_unread` replaced by the identity), one process at a time, alternating.

    python benchmarks/read_less.py /tmp/amldoctor-bench/many-shapes-x1-seed1 [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from run import MIB, machine, run_once

KEEP = "import amldoctor.load as l; l.drop_unread = lambda obj: obj\n"
LOAD = "import sys\nfrom amldoctor.load import load_snapshot\nload_snapshot(sys.argv[1])\n"
SCAN = (
    "import sys\nfrom amldoctor.cli import main\n"
    "sys.argv = ['amldoctor', 'scan', '--snapshot', sys.argv[1], '-A']\nmain()\n"
)


def fields_tree(value: object, depth: int = 0) -> object:
    """The `fieldsV1` shape: `f:` keys for fields, `k:` keys for list items with a name."""
    if isinstance(value, dict) and depth < 6:
        return {f"f:{k}": fields_tree(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list) and depth < 6:
        out: dict[str, object] = {}
        for item in value:
            if isinstance(item, dict) and "name" in item:
                key = "k:" + json.dumps({"name": item["name"]}, separators=(",", ":"))
                out[key] = {".": {}, **fields_tree(item, depth + 1)}  # type: ignore[dict-item]
        return out
    return {}


def with_managed_fields(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    stamp = meta.get("creationTimestamp") or "2026-11-28T08:00:00Z"
    entries = [
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "apiVersion": obj.get("apiVersion", "v1"),
            "time": stamp,
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_tree(
                {
                    "metadata": {k: v for k, v in meta.items() if k != "name"},
                    "spec": obj.get("spec"),
                }
            ),
        }
    ]
    if obj.get("status"):
        entries.append(
            {
                "manager": "kubelet" if obj.get("kind") == "Pod" else "kube-controller-manager",
                "operation": "Update",
                "apiVersion": obj.get("apiVersion", "v1"),
                "time": stamp,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_tree({"status": obj["status"]}),
                "subresource": "status",
            }
        )
    return {**obj, "metadata": {**meta, "managedFields": entries}}


def make_bundle(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for f in sorted(source.iterdir()):
        doc = json.loads(f.read_bytes())
        if isinstance(doc, dict) and isinstance(doc.get("items"), list):
            doc["items"] = [with_managed_fields(o) for o in doc["items"]]
        (target / f.name).write_text(json.dumps(doc))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    target = args.bundle.with_name(args.bundle.name + "-managed-fields")
    if not target.exists():
        make_bundle(args.bundle, target)
    size = sum(f.stat().st_size for f in target.iterdir()) / MIB
    print(f"Machine: {machine()}\n\n## {target.name}: {size:.0f} MiB ({args.runs} runs)\n")
    python = sys.executable
    cmds = {
        "load_snapshot, managedFields kept": [python, "-c", KEEP + LOAD, str(target)],
        "load_snapshot, managedFields dropped": [python, "-c", LOAD, str(target)],
        "scan -A, managedFields kept": [python, "-c", KEEP + SCAN, str(target)],
        "scan -A, managedFields dropped": [python, "-c", SCAN, str(target)],
    }
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    for _ in range(args.runs):
        for label, argv_ in cmds.items():
            _, usage, code, _, err = run_once(argv_, 1800)
            if code not in (0, 1):
                sys.exit(f"{label}: exit {code}: {err[-400:]}")
            rows[label].append((usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024))
    print("| measurement | CPU (s) | peak RSS (MiB) |\n|---|---:|---:|")
    for label, samples in rows.items():
        cpu = statistics.median(s[0] for s in samples)
        rss = statistics.median(s[1] for s in samples)
        print(f"| {label} | {cpu:.2f} | {rss:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
