"""The incident view on a real 100-column terminal: within a row budget, no fact or command lost.

Piped output is never wrapped; on a terminal the causes' long messages and fixes wrap, so the
budget is measured on a pty (tests.ptyrun) over a generated cluster. The compaction that keeps
it (flow-style YAML, wording shared between causes printed once) is checked on every fix the
generated cluster produces, so a new fix shape is covered without a new example.
"""

from __future__ import annotations

import re

import pytest
import yaml

from amldoctor.engine.report import Severity
from amldoctor.engine.runner import run_rules
from amldoctor.load import load_snapshot
from amldoctor.render.compactfix import FLOW_INDENT, compact_remediation
from amldoctor.render.console import MAX_ENTRIES
from amldoctor.render.saidbefore import SaidBefore
from tests.conftest import benchmark_module
from tests.ptyrun import run_in_tty, screen_rows

gen_cluster = benchmark_module("gen_cluster")

# The 150-node version of the benchmark cluster (tests/unit/test_grouping.py): 30 causes before
# causes that differ only by image, limit or probe port were merged, 18 after.
SMALL = gen_cluster.Scale(nodes=150, pods=3000, events=6000, pending_share=0.03)
# Rows per cause shown on a 100-column terminal: header, example message, fix, what it explains,
# images or limits, pods, blank line. Merged causes hold more (the explained scheduler verdict),
# but there are fewer: this cluster took 416 rows in 30 causes before compaction, 352 after, and
# 246 rows in 15 causes shown (3 info causes in one line) since the merge.
ROWS_PER_CAUSE = 14
ROWS_FIXED = 40  # title, triage list of 10, AML jobs section, summary
ROWS_MAX = 300  # the incident view's target: one long screen, not a log


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    out = tmp_path_factory.mktemp("screen") / "cluster"
    snap, _ = gen_cluster.generate(SMALL, seed=11)
    gen_cluster.write(snap, out)
    return out, run_rules(load_snapshot(out), namespaces=None)


def test_grouped_view_fits_its_row_budget_on_a_100_column_terminal(cluster):
    out, report = cluster
    groups = report.groups()
    entries = [g for g in groups if g.severity != Severity.INFO][:MAX_ENTRIES]
    assert len(entries) >= 12, "the fixture must hold many causes"
    code, screen = run_in_tty("scan", "-A", "--snapshot", str(out), columns=100)
    assert code == 1, screen[-500:]
    rows = screen_rows(screen, 100)
    assert rows <= ROWS_PER_CAUSE * len(entries) + ROWS_FIXED, rows
    assert rows <= ROWS_MAX, rows
    # Every cause is still there: each shown one with its fix, the info ones named in one line.
    numbers = {id(g): n for n, g in enumerate(groups, 1)}
    for group in entries:
        assert f"\n{numbers[id(group)]}. " in screen, group.id
    assert screen.count("    fix: ") == sum(1 for g in entries if g.example.remediation)
    info = [g for g in groups if g.severity == Severity.INFO]
    if info:
        assert f"--expand for {len(info)} more" in screen.replace("\n  ", " ")


_PAIR = re.compile(r"^\s*(?:- )?([\w./-]+): (\S.*)$")


def _leaves(data: object) -> set[tuple[str, str]]:
    """Every (key, scalar value) pair in parsed YAML, at any depth."""
    found: set[tuple[str, str]] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, dict) or (
                isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)
            ):
                found |= _leaves(value)
            else:
                found.add((str(key), str(value)))
    elif isinstance(data, list):
        for item in data:
            found |= _leaves(item)
    return found


def test_folded_yaml_holds_the_same_data_in_every_fix(cluster):
    _, report = cluster
    checked = 0
    for remediation in {f.remediation for f in report.findings if f.remediation}:
        compact = compact_remediation(remediation)
        assert len(compact.splitlines()) <= len(remediation.splitlines())
        if compact == remediation:
            continue
        folded: set[tuple[str, str]] = set()
        for line in compact.splitlines():
            if line.startswith(FLOW_INDENT) and line not in remediation.splitlines():
                folded |= _leaves(yaml.safe_load(line[len(FLOW_INDENT) :]))
        gone = [line for line in remediation.splitlines() if line not in compact.splitlines()]
        pairs = {m.groups() for m in map(_PAIR.match, gone) if m}
        assert pairs, remediation
        assert {(k, str(yaml.safe_load(v))) for k, v in pairs} <= folded, remediation
        checked += 1
    assert checked >= 5, "the generated cluster must produce YAML fixes"


def test_a_yaml_document_after_prose_is_folded_and_prose_is_not():
    fix = (
        "Create the claim in namespace ns:\n"
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n"
        "spec:\n  resources:\n    requests:\n      storage: 100Gi\n"
        "then rerun the job: it mounts the claim at start"
    )
    lines = compact_remediation(fix).splitlines()
    assert lines[0] == "Create the claim in namespace ns:"
    assert lines[-1] == "then rerun the job: it mounts the claim at start"
    assert "  metadata: {name: data}" in lines
    assert "  spec: {resources: {requests: {storage: 100Gi}}}" in lines


@pytest.mark.parametrize(
    "fix",
    [
        "Do this:\n  key: [unclosed\n  other: 1",
        "Add it:\nenv:\n- name: X\n  value: <value>   # or valueFrom: secretKeyRef",
    ],
)
def test_yaml_that_does_not_parse_or_has_a_comment_is_kept(fix):
    assert compact_remediation(fix) == fix


@pytest.mark.parametrize(
    ("first", "second", "folded"),
    [
        # Identical explanation after the lead clause: printed once.
        ("exit 1; an uncaught exception or sys.exit(1) ends this way", None, True),
        # A different number in the clause is a different fact.
        (
            "exit 1; the node has 8 GPUs allocatable on it now",
            "exit 1; the node has 4 GPUs allocatable on it now",
            False,
        ),
        # The lead clause is never folded.
        ("add tolerations for sku=gpu:NoSchedule to the pod spec now", None, False),
    ],
)
def test_wording_shared_with_an_earlier_cause_is_printed_once(first, second, folded):
    said = SaidBefore()
    assert said.fold(first, 1) == first
    again = said.fold(second or first, 2)
    if folded:
        assert again == first.split("; ")[0] + "; (as in cause 1)"
    else:
        assert again == (second or first)


def test_a_long_aside_is_folded_but_a_short_fact_is_not():
    said = SaidBefore()
    text = "limit 2Gi (1.5 x the current limit, so usage is unknown) on node n (pool gpu, NC24)"
    assert said.fold(text, 1) == text
    other = text.replace("2Gi", "3Gi")
    assert said.fold(other, 4) == "limit 3Gi (as in cause 1) on node n (pool gpu, NC24)"
