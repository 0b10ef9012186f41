"""amldoctor's benchmarks: wall time and peak memory on synthetic clusters, against `json.load`.

The bar is the cost of reading the data at all: parsing the bundle's JSON with the standard
library is the baseline the other figures are divided by. Every measurement runs in its own
subprocess (what users run, interpreter start included), one at a time, `--runs` times; the
tables give the median wall time, the median CPU time (user + system: steadier than wall time
on a shared machine) and the median peak resident set size (from `wait4`: that process only).
The runs go in rounds (each command once per round), so that other work on the machine weighs
on every measurement of a table alike.
Ratios are given against both parses: with the cyclic GC on (what any Python tool pays unless
it pauses the collector) and with it off (the parser's own cost: the honest floor). Bundles are
generated once by `gen_cluster.py` (the reference cluster and the scaling sizes) and
`gen_many_shapes.py` (2,000 nodes whose ~200 Pending pods ask ~80 distinct questions) and
reused from `--workdir`, named after the generators' source (a changed generator makes new
bundles); `live_scan.py` measures a live `scan -n` against kubectl. amldoctor runs from this
checkout's source tree, byte-compiled, as every compared copy does (`FROM_TREE`).

    python benchmarks/run.py          # many shapes; 5,000 nodes; scaling 1/8 to 1x; live scan -n
    python benchmarks/run.py --cases many-shapes --runs 3 --profile
    python benchmarks/run.py --cases reference --profile  # + tracemalloc's top allocation sites
    python benchmarks/run.py --cases many-shapes --before /tmp/main  # + main's, same rounds
    python benchmarks/run.py --cases live         # a real API server with 10,000 pods

Never part of the test suite: a run takes many minutes and gigabytes.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIB = 1024**2

BASELINE = """
import json, sys
from pathlib import Path
data = [json.load(open(f, "rb")) for f in sorted(Path(sys.argv[1]).glob("*.json"))]
"""
BASELINE_GC_OFF = "import gc; gc.disable()" + BASELINE  # the parser's own cost: the floor
GC_OFF = "json.load, cyclic GC off"
# Every copy of amldoctor is imported from its source tree, put first on sys.path (the
# virtualenv's editable-install import hook dropped): through an editable install each run
# paid 0.15-0.2 s of imports that no installed wheel pays. Its modules are byte-compiled first,
# as pip does for an installed copy. The source tree is the first argument.
FROM_TREE = """
import sys
sys.meta_path = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, sys.argv.pop(1))
"""
LOAD = (
    FROM_TREE
    + """
from amldoctor.load import load_snapshot
load_snapshot(sys.argv[1])
"""
)
# From a loaded snapshot to the verdict, lazily built indexes included: what why-pending adds
# on top of reading the bundle. Prints its own time; profiles just that part if given a path.
ANALYSIS = (
    FROM_TREE
    + """
import time
from amldoctor.load import load_snapshot
from amldoctor.whypending import analyze
snap = load_snapshot(sys.argv[1])
pod = snap.get("Pod", sys.argv[2], sys.argv[3])
if len(sys.argv) > 4:
    import cProfile
    profiler = cProfile.Profile()
    profiler.runcall(analyze, snap, pod)
    profiler.dump_stats(sys.argv[4])
    raise SystemExit
start = time.perf_counter()
analyze(snap, pod)
print(time.perf_counter() - start)
"""
)

# The command line of a copy of amldoctor: this checkout's, or another version's source
# (`git archive main | tar -x -C DIR`, `--before`); "load" times `load_snapshot` alone.
RUN_COPY = (
    FROM_TREE
    + """
if sys.argv[1] == "load":
    from amldoctor.load import load_snapshot
    load_snapshot(sys.argv[2])
else:
    from amldoctor.cli import main
    sys.argv = ["amldoctor", *sys.argv[1:]]
    main()
"""
)


@dataclass
class Result:
    seconds: float = 0.0
    cpu: float = 0.0
    peak_mib: float = 0.0
    reported: float | None = None  # a time the process measured itself
    error: str | None = None


def measure(argv: list[str], runs: int, ok_codes: tuple[int, ...], timeout: float) -> Result:
    """Medians over `runs` runs of `argv`, one process at a time."""
    samples = Samples()
    for _ in range(runs):
        samples.add(argv, ok_codes, timeout)
        if samples.error:
            break
    return samples.result()


@dataclass
class Samples:
    """The runs of one measurement so far, and the first failure (which ends it)."""

    times: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    reported: list[float] = field(default_factory=list)
    error: str | None = None
    stopped_after: float = 0.0

    def add(self, argv: list[str], ok_codes: tuple[int, ...], timeout: float) -> None:
        seconds, usage, code, out, err = run_once(argv, timeout)
        if seconds >= timeout:
            self.error, self.stopped_after = f"stopped after {timeout:.0f} s", seconds
        elif code not in ok_codes:
            self.error = (err.strip().splitlines() or [f"exit {code}"])[-1]
        else:
            self.times.append(seconds)
            self.cpus.append(usage.ru_utime + usage.ru_stime)
            self.peaks.append(usage.ru_maxrss / 1024)  # KiB on Linux
            with contextlib.suppress(ValueError):  # only the analysis script prints a number
                self.reported.append(float(out))

    def result(self) -> Result:
        if self.error:
            return Result(self.stopped_after, error=self.error)
        median = statistics.median
        return Result(
            median(self.times),
            median(self.cpus),
            median(self.peaks),
            median(self.reported) if self.reported else None,
        )


def run_once(argv: list[str], timeout: float) -> tuple[float, os.struct_rusage, int, str, str]:
    """Wall time, resource usage (`wait4`: this child only), exit code, stdout head, stderr.

    Output goes to files, as `amldoctor scan > report.txt` would: a pipe nobody drains would
    stall a large report, and draining it would add our own work to the measurement.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        killer = threading.Timer(timeout, proc.kill)  # the pid stays ours until reaped below
        killer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        killer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        head = out.read(64).decode(errors="replace").strip()
        return seconds, usage, proc.returncode, head, err.read().decode(errors="replace")


# -- bundles ---------------------------------------------------------------------------------


GENERATORS = {"cluster": "gen_cluster.py", "many-shapes": "gen_many_shapes.py"}


def generator_digest() -> str:
    """The generators' source, hashed: a bundle is named after the code that made it, so a
    changed generator makes new bundles instead of timing stale ones."""
    digest = hashlib.sha256()
    for name in sorted(GENERATORS.values()):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:8]


def bundle_for(workdir: Path, scale: float, seed: int, kind: str = "cluster") -> tuple[Path, dict]:
    """Generate (once) the bundle for a scale; its path and the generator's summary."""
    name = f"{kind}-x{scale:g}-seed{seed}-{generator_digest()}"
    path = workdir / name
    info_path = workdir / f"{name}.info.json"
    if not info_path.exists():
        print(f"generating {path} ...", file=sys.stderr, flush=True)
        subprocess.run(
            [
                sys.executable,
                str(HERE / GENERATORS[kind]),
                str(path),
                "--scale",
                str(scale),
                "--seed",
                str(seed),
                "--info",
                str(info_path),
            ],
            check=True,
        )
    return path, json.loads(info_path.read_text())


def bundle_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir()) / MIB


def pending_pod(info: dict) -> tuple[str, str]:
    """A GPU pod the default scheduler rejected, in the big namespace: the typical question."""
    pods = info["pending"]["no-toleration"]
    return next((tuple(p) for p in pods if p[0] == info["big_namespace"]), tuple(pods[0]))


# -- the suite -------------------------------------------------------------------------------


SOURCE = str(HERE.parent)  # this checkout


def this_checkout(installed: str | None) -> list[str]:
    """How to start this checkout's amldoctor: the installed command when one is named,
    else from its source tree, as every other copy is started (`FROM_TREE`)."""
    return [installed] if installed else [sys.executable, "-c", RUN_COPY, SOURCE]


def suite(
    bundle: Path, info: dict, amldoctor: list[str], full: bool
) -> dict[str, tuple[list[str], tuple]]:
    """Label -> (argv, accepted exit codes). `scan` exits 1 when it finds errors: that is fine.
    `amldoctor`: the argv that starts this checkout's command (`this_checkout`)."""
    python = sys.executable
    namespace, pod = pending_pod(info)
    snapshot = ["--snapshot", str(bundle)]
    commands = {
        "json.load (baseline)": ([python, "-c", BASELINE, str(bundle)], (0,)),
        GC_OFF: ([python, "-c", BASELINE_GC_OFF, str(bundle)], (0,)),
        "load_snapshot": ([python, "-c", LOAD, SOURCE, str(bundle)], (0,)),
        "scan -A": ([*amldoctor, "scan", *snapshot, "-A"], (0, 1)),
    }
    if full:
        big = info["big_namespace"]
        commands |= {
            f"scan -n {big}": ([*amldoctor, "scan", *snapshot, "-n", big], (0, 1)),
            "why-pending POD": (
                [*amldoctor, "why-pending", pod, "-n", namespace, *snapshot],
                (0, 1),
            ),
            "why-pending analysis": (
                [python, "-c", ANALYSIS, SOURCE, str(bundle), namespace, pod],
                (0,),
            ),
            "amldoctor --help": ([*amldoctor, "--help"], (0,)),
        }
    return commands


def before_commands(source: Path, bundle: Path) -> dict[str, tuple[list[str], tuple]]:
    """`load_snapshot` and `scan -A` of another version (`--before`), for the same rounds."""
    run_other = [sys.executable, "-c", RUN_COPY, str(source)]
    return {
        "load_snapshot (before)": ([*run_other, "load", str(bundle)], (0,)),
        "scan -A (before)": ([*run_other, "scan", "--snapshot", str(bundle), "-A"], (0, 1)),
    }


def run_suite(commands: dict, runs: int, timeout: float) -> dict[str, Result]:
    """Every measurement `runs` times, in rounds: each round runs each command once, so that a
    change in the machine's load (other work on the same cores) weighs on all of them alike and
    the ratios within a run stay fair; medians per measurement."""
    samples = {label: Samples() for label in commands}
    for round_no in range(runs):
        for label, (argv, ok) in commands.items():
            if samples[label].error:
                continue
            print(f"  {label} (run {round_no + 1} of {runs}) ...", file=sys.stderr, flush=True)
            samples[label].add(argv, ok, timeout)
    results = {label: sample.result() for label, sample in samples.items()}
    for label, r in results.items():
        figures = r.error or f"{r.seconds:.2f} s, {r.cpu:.2f} s CPU, {r.peak_mib:.0f} MiB"
        print(f"    {label}: {figures}", file=sys.stderr, flush=True)
    return results


# -- reports ---------------------------------------------------------------------------------


def print_main_table(results: dict[str, Result], size_mib: float) -> None:
    """Ratios of CPU time against both parses: GC on (what users pay) and off (the floor)."""
    base, floor = results["json.load (baseline)"], results.get(GC_OFF)
    print(
        "| measurement | wall (s) | CPU (s) | × json.load (CPU) | × json.load, GC off (CPU) "
        "| peak RSS (MiB) | × bundle size |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r in results.items():
        if r.error:
            print(f"| {label} | {r.error} | | | | | |")
            continue
        timed = label != "amldoctor --help" and base.cpu
        ratio = f"{r.cpu / base.cpu:.2f}" if timed else ""
        ratio_floor = f"{r.cpu / floor.cpu:.2f}" if timed and floor and floor.cpu else ""
        wall = f"{r.seconds:.2f}" + (
            f" (analysis {r.reported:.2f})" if r.reported is not None else ""
        )
        print(
            f"| {label} | {wall} | {r.cpu:.2f} | {ratio} | {ratio_floor} | {r.peak_mib:.0f} "
            f"| {r.peak_mib / size_mib:.2f} |"
        )


def print_scaling(rows: list[tuple[float, dict, float, dict[str, Result]]]) -> None:
    """CPU seconds per size, and growth against the smallest size (linear: equal to the size)."""
    labels = list(rows[0][3])
    print(
        "| size | nodes | pods | events | bundle (MiB) | "
        + " | ".join(f"{x}: CPU s (growth)" for x in labels)
        + " |"
    )
    print("|---|---:|---:|---:|---:|" + "---:|" * len(labels))
    first = rows[0][3]
    for factor, info, size, results in rows:
        cells = []
        for label in labels:
            r, r0 = results[label], first[label]
            cells.append(
                r.error
                if r.error
                else f"{r.cpu:.2f} ({r.cpu / r0.cpu:.1f}×)"
                if r0.cpu
                else f"{r.cpu:.2f}"
            )
        print(
            f"| {factor:g}× | {info['nodes']} | {info['pods']} | {info['events']} | {size:.0f} | "
            + " | ".join(cells)
            + " |"
        )


def profile(bundle: Path, info: dict, out: Path, top: int) -> None:
    """cProfile of `scan -A` and of the why-pending analysis: the top functions by own time."""
    import pstats

    namespace, pod = pending_pod(info)
    targets = {
        "scan-A": lambda prof: [
            "-m",
            "cProfile",
            "-o",
            prof,
            "-m",
            "amldoctor.cli",
            "scan",
            "--snapshot",
            str(bundle),
            "-A",
        ],
        "why-pending": lambda prof: ["-c", ANALYSIS, SOURCE, str(bundle), namespace, pod, prof],
    }  # the whole scan; the why-pending analysis after loading
    for name, args in targets.items():
        prof = out / f"{name}.prof"
        subprocess.run([sys.executable, *args(str(prof))], stdout=subprocess.DEVNULL, check=True)
        for order in ("tottime", "cumulative"):
            print(f"\n### cProfile of {name}: top {top} by {order} ({prof})\n\n```")
            pstats.Stats(str(prof), stream=sys.stdout).strip_dirs().sort_stats(order).print_stats(
                top
            )
            print("```")


def machine() -> str:
    cpu = platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average {os.getloadavg()[0]:.1f} at start"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="reference cluster (1 = 5,000 nodes, 50,000 pods, 100,000 events)",
    )
    parser.add_argument(
        "--factors", default="1,2,4,8", help="scaling sizes; the largest is the reference cluster"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds before a run is stopped"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/amldoctor-bench"))
    parser.add_argument(
        "--amldoctor",
        default=None,
        help="an installed amldoctor command to time instead of this checkout's source tree",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also print cProfile tops of scan -A and why-pending"
    )
    parser.add_argument(
        "--cases",
        default="reference,scaling,many-shapes,live",
        help=f"comma-separated, of {', '.join(CASES)}",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="a copy of another version's source (git archive REV | tar -x -C DIR): its "
        "load_snapshot and scan -A run in the same rounds, as '(before)' rows",
    )
    args = parser.parse_args(argv)
    if args.before and not (args.before / "amldoctor" / "__init__.py").is_file():
        parser.error(f"--before {args.before}: no amldoctor package there")
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        parser.error(f"--cases: unknown {', '.join(unknown)} (known: {', '.join(CASES)})")
    args.workdir.mkdir(parents=True, exist_ok=True)
    for tree in (Path(SOURCE), args.before):
        if tree is not None:
            compileall.compile_dir(str(tree / "amldoctor"), quiet=1)
    amldoctor = this_checkout(args.amldoctor)

    print(f"Machine: {machine()}\n")
    if "many-shapes" in cases:
        # Many distinct questions over fewer nodes: simulations per shape, not per cluster.
        bundle, info = bundle_for(args.workdir, 1.0, args.seed, "many-shapes")
        size = bundle_mib(bundle)
        print(
            f"## Many shapes: {info['nodes']} nodes, {info['pods']} pods, {info['events']} events, "
            f"{sum(map(len, info['pending'].values()))} Pending pods of "
            f"{info['pending_shapes']} shapes; bundle {size:.0f} MiB; median of {args.runs} runs\n"
        )
        commands = suite(bundle, info, amldoctor, full=True)
        if args.before:
            commands |= before_commands(args.before, bundle)
        results = run_suite(commands, args.runs, args.timeout)
        print_main_table(results, size)
        print()
        if args.profile:
            profile(bundle, info, args.workdir, top=25)
    if "reference" in cases or "scaling" in cases:
        reference(args, amldoctor, scaling="scaling" in cases, full="reference" in cases)
    if "live" in cases:
        import live_scan

        live_scan.main(["--runs", str(args.runs), "--no-machine"])
    return 0


CASES = ("reference", "scaling", "many-shapes", "live")


def reference(args: argparse.Namespace, amldoctor: list[str], *, scaling: bool, full: bool) -> None:
    """The reference cluster (5,000 nodes at scale 1), and the scaling table up to it."""
    bundle, info = bundle_for(args.workdir, args.scale, args.seed)
    size = bundle_mib(bundle)
    print(
        f"## {info['nodes']} nodes, {info['pods']} pods, {info['events']} events "
        f"({info['objects']} objects); bundle {size:.0f} MiB on disk; median of {args.runs} runs\n"
    )
    commands = suite(bundle, info, amldoctor, full=full)
    if args.before:
        commands |= before_commands(args.before, bundle)
    results = run_suite(commands, args.runs, args.timeout)
    print_main_table(results, size)
    if args.profile and full:
        profile(bundle, info, args.workdir, top=25)
        sys.stdout.flush()  # the memory tops come from a child process, after these lines
        subprocess.run([sys.executable, str(HERE / "memory_sites.py"), str(bundle)], check=True)
    if not scaling:
        return
    factors = sorted(float(f) for f in args.factors.split(","))
    rows = []
    for factor in factors:
        scale = args.scale * factor / factors[-1]
        if factor == factors[-1]:
            picked = {k: v for k, v in results.items() if k in suite(bundle, info, [], full=False)}
            rows.append((factor, info, size, picked))
            continue
        small, small_info = bundle_for(args.workdir, scale, args.seed)
        commands = suite(small, small_info, amldoctor, full=False)
        rows.append(
            (factor, small_info, bundle_mib(small), run_suite(commands, args.runs, args.timeout))
        )
    print(f"\n## Scaling (1× = {args.scale / factors[-1]:g} of the reference cluster)\n")
    print_scaling(rows)


if __name__ == "__main__":
    sys.exit(main())
