"""Small things a new user trips over: plurals, placeholders where data is missing, a JSON array
linted item by item, `dump -o` never replacing a bundle silently, `.amldoctor.yaml` found the way
git finds its config, and no destructive advice on an info finding."""

from __future__ import annotations

import json
import os

import pytest

from amldoctor.lint.config import find_config, load_config
from amldoctor.render.style import plural
from tests.conftest import run_cli


@pytest.mark.parametrize(("n", "text"), [(0, "0 pods"), (1, "1 pod"), (2, "2 pods")])
def test_plural(n, text):
    assert plural(n, "pod") == text


def test_summary_line_reads_as_english():
    out = run_cli("scan", "--snapshot", "fixtures/rules/AMD101/failing.yaml").stdout
    assert not any(s in out for s in ("1 errors", "1 warnings", "1 pods checked", "1 causes"))


def test_json_array_items_are_named_by_position(tmp_path):
    path = tmp_path / "objs.json"
    path.write_text(
        json.dumps(
            [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}, 5, {"x": 1}]
        )
    )
    result = run_cli("lint", str(path))
    assert "item 2 of the array in document 1 is a number" in result.stdout
    assert "item 3 of the array in document 1 has no apiVersion/kind" in result.stdout
    assert "None" not in result.stdout


def test_why_pending_manifest_without_kind_says_so(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("foo: 1\n")
    result = run_cli("why-pending", "--snapshot", "fixtures/demo", "-f", str(path))
    assert result.returncode == 2 and "None" not in result.stderr
    assert "an object without kind" in result.stderr


@pytest.mark.parametrize("existing", ["file", "bundle-dir"])
def test_dump_never_replaces_an_existing_output_without_force(tmp_path, existing):
    target = tmp_path / ("b.tar.gz" if existing == "file" else "bundle")
    if existing == "file":
        target.write_bytes(b"previous evidence")
    else:
        target.mkdir()
        (target / "manifest.json").write_text("{}")
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
    result = run_cli("dump", "-o", str(target), env=env)
    assert result.returncode == 2
    assert "already exists: pass --force" in result.stderr and result.stderr.count("\n") == 1
    if existing == "file":
        assert target.read_bytes() == b"previous evidence"


def test_config_is_found_in_a_parent_up_to_the_repository_root(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "charts" / "app").mkdir(parents=True)
    (repo / ".amldoctor.yaml").write_text("ignore: [AMD811]\n")
    assert find_config(repo / "charts" / "app") == repo / ".amldoctor.yaml"
    config = load_config(None, cwd=repo / "charts" / "app")
    assert config.source == str((repo / ".amldoctor.yaml").resolve())
    assert "AMD811" in config.ignore
    # Not above the repository root.
    (tmp_path / ".amldoctor.yaml").write_text("ignore: [AMD805]\n")
    inner = tmp_path / "other" / ".git"
    inner.mkdir(parents=True)
    assert find_config(tmp_path / "other") is None


def test_config_next_to_the_linted_files_is_found(tmp_path):
    (tmp_path / "k8s").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / ".amldoctor.yaml").write_text("ignore: [AMD811]\n")
    config = load_config(None, cwd=tmp_path.parent.parent, inputs=[str(tmp_path / "k8s")])
    assert "AMD811" in config.ignore


def test_gpu_inventory_info_gives_no_destructive_advice():
    doc = json.loads(run_cli("scan", "--snapshot", "fixtures/demo", "-A", "-o", "json").stdout)
    infos = [f for f in doc["findings"] if f["rule"] == "AMD605" and f["severity"] == "info"]
    assert infos
    for f in infos:
        assert "delete" not in f["remediation"]
