"""A type-level fuzzer: whatever a cluster or a customer sends, a clear answer, never a traceback.

Valid objects of every kind amldoctor reads (the demo cluster's, plus the workload manifests of
the lint and why-pending fixtures) get random field paths replaced by wrong types, nulls, huge
numbers and odd strings, or removed. Each command then has to keep its contract: exit 0, 1 or 2;
exit 1 only with findings; exactly one `amldoctor: error:` line on stderr for exit 2; and no
exception escapes (for a user, that is a traceback). The example count is bounded so this runs
in CI in seconds; `AMLDOCTOR_FUZZ_EXAMPLES=2000` runs it longer by hand.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from amldoctor.load import load_snapshot
from tests.conftest import DEMO, ROOT
from tests.unit.inprocess import Result, invoke

EXAMPLES = int(os.environ.get("AMLDOCTOR_FUZZ_EXAMPLES", "20"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every CI run; raise the count to explore
    # No shrinking: the failing object is printed as drawn, and shrinking a whole cluster's
    # worth of YAML takes minutes.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PENDING = ("aml-compute", "llm-finetune-gpu-jgczv")
_DELETE = object()

ODD_VALUES = st.one_of(
    st.sampled_from(
        [
            None,
            "x",
            "",
            "=",
            "{{ .Values.image }}",
            "1e999Gi",
            "lots",
            "-1",
            "pod/x",
            "ns/name/extra",
            "\u00e9\u4e2d\U0001f4a5",
            "a" * 300,
            "0" * 30,
            10**30,
            -(10**30),
            -1,
            0,
            1.5,
            math.nan,
            math.inf,
            -math.inf,
            True,
            False,
            [],
            {},
            ["x"],
            [None],
            [1, "a"],
            {"a": 1},
            {"": None},
            [{"name": None}],
            _DELETE,
        ]
    ),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=8),
)


def _demo_objects() -> list[dict]:
    """The demo cluster's cluster-wide objects and its `aml-compute` namespace: every kind
    amldoctor reads, small enough that a scan per example stays quick."""
    return [
        o
        for o in load_snapshot(DEMO).objects
        if o["metadata"].get("namespace") in (None, PENDING[0])
    ]


def _pod_templates() -> list[dict]:
    """Workload manifests (Pods, controllers, ML kinds) from the repository's own fixtures."""
    docs: list[dict] = []
    paths = sorted((ROOT / "fixtures" / "lint").glob("AMD8*/passing.yaml"))
    paths += sorted((ROOT / "fixtures" / "input").glob("valid-*.yaml"))
    for path in paths:
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind"):
                docs.append(doc)
    return docs


DEMO_OBJECTS = _demo_objects()
MANIFESTS = _pod_templates()


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every path to a field or list entry, the root's children first."""
    found: list[tuple] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.append((*prefix, key))
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.append((*prefix, index))
            found.extend(_paths(child, (*prefix, index)))
    return found


def _set(obj: dict, path: tuple, value: object) -> None:
    parent = obj
    for step in path[:-1]:
        parent = parent[step]
    if value is _DELETE:
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            parent[path[-1]] = None
    else:
        parent[path[-1]] = copy.deepcopy(value)


@st.composite
def mutated(draw, bases: list[dict]) -> dict:
    """A copy of one base object with one to three field paths replaced."""
    obj = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(obj)
        if not paths:
            break
        _set(obj, draw(st.sampled_from(paths)), draw(ODD_VALUES))
    return obj


def _write(path: Path, docs: list) -> Path:
    """YAML for one manifest (as users write them), JSON for a cluster (quicker to read back)."""
    if len(docs) == 1:
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    else:
        path = path.with_suffix(".json")
        path.write_text(
            json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}, default=str)
        )
    return path


def _check(result: Result, *, findings_key: str = "findings") -> None:
    """The CLI contract for any input."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code in (0, 1, 2), (result.code, result.stderr)
    if result.code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("amldoctor: error: "), result.stderr
    if result.code == 1:
        doc = json.loads(result.stdout)
        assert doc[findings_key], "exit 1 without findings"


def _cluster_with(tmp_path: Path, obj: dict, replace: bool = True) -> Path:
    """The demo cluster with `obj` replacing the object of the same kind and name (or added)."""
    key = _key(obj)
    docs = [o for o in DEMO_OBJECTS if not (replace and _key(o) == key)]
    return _write(tmp_path / "cluster.yaml", [*docs, obj])


def _key(obj: object) -> tuple:
    if not isinstance(obj, dict):
        return ()
    m = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return (obj.get("kind"), m.get("namespace"), m.get("name"))


@FUZZ
@given(obj=mutated(DEMO_OBJECTS), table=st.booleans())
def test_scan_survives_any_field(tmp_path_factory, obj, table):
    path = _cluster_with(tmp_path_factory.mktemp("scan"), obj, replace=not table)
    if table:  # the table renderer sorts and groups: it has crashed where JSON did not
        result = invoke("scan", "-A", "--snapshot", str(path))
        assert "Traceback" not in result.stderr and result.code in (0, 1, 2), result
    else:
        _check(invoke("scan", "-A", "--snapshot", str(path), "-o", "json"))


@FUZZ
@given(obj=mutated([o for o in DEMO_OBJECTS if o.get("kind") in ("Pod", "Node", "Event")]))
def test_why_pending_survives_any_field(tmp_path_factory, obj):
    path = _cluster_with(tmp_path_factory.mktemp("wp"), obj)
    ns, name = PENDING
    if (
        obj.get("kind") == "Pod"
        and _key(obj)[1:]
        and all(isinstance(k, str) for k in _key(obj)[1:])
    ):
        ns, name = _key(obj)[1], _key(obj)[2]
    _check(invoke("why-pending", name, "-n", ns, "--snapshot", str(path), "-o", "json"))


@pytest.fixture(scope="module")
def small_cluster(tmp_path_factory) -> Path:
    """The fuzzer's demo subset as one JSON file: what-if and pre-flight judge against it."""
    return _write(tmp_path_factory.mktemp("cluster") / "cluster.json", DEMO_OBJECTS)


@FUZZ
@given(obj=mutated(MANIFESTS))
def test_why_pending_what_if_survives_any_field(tmp_path_factory, small_cluster, obj):
    manifest = _write(tmp_path_factory.mktemp("wpf") / "m.yaml", [obj])
    _check(
        invoke("why-pending", "-f", str(manifest), "--snapshot", str(small_cluster), "-o", "json")
    )


@FUZZ
@given(obj=mutated(MANIFESTS))
def test_lint_survives_any_field(tmp_path_factory, obj):
    manifest = _write(tmp_path_factory.mktemp("lint") / "m.yaml", [obj])
    _check(invoke("lint", str(manifest), "-o", "json"))


@FUZZ
@given(obj=mutated(MANIFESTS))
def test_lint_against_snapshot_survives_any_field(tmp_path_factory, small_cluster, obj):
    manifest = _write(tmp_path_factory.mktemp("lint") / "m.yaml", [obj])
    _check(invoke("lint", str(manifest), "--against", str(small_cluster), "-o", "json"))


@FUZZ
@given(obj=mutated(DEMO_OBJECTS))
def test_dump_bundle_round_trip_survives_any_field(tmp_path_factory, obj):
    """`dump` is live-only: what it writes goes through `write_bundle`; `--snapshot` reads it."""
    from amldoctor.bundle import write_bundle
    from amldoctor.snapshot import Snapshot

    tmp = tmp_path_factory.mktemp("dump")
    snap = Snapshot([*DEMO_OBJECTS[:40], obj], source="fuzz", namespace="aml-compute")
    bundle = write_bundle(snap, str(tmp / "b.tar.gz"))
    _check(invoke("scan", "--snapshot", str(bundle), "-o", "json"))


@pytest.mark.parametrize("base", range(len(MANIFESTS)))
def test_every_valid_manifest_is_read(base, tmp_path):
    """The fuzzer's bases are valid: each lints without an input error."""
    manifest = _write(tmp_path / "m.yaml", [MANIFESTS[base]])
    result = invoke("lint", str(manifest), "-o", "json")
    assert result.code in (0, 1), result.stderr
