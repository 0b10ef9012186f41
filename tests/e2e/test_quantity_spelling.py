"""amldoctor spells quantities as the real API server stores and prints them.

ResourceQuotas carry a few hundred generated values, nine at a time under the quota keys that
take any non-negative quantity (cpu, memory and ephemeral-storage ones; extended and storage-class
keys must be whole numbers); the server parses them and returns each in its canonical form,
which must be exactly what `amldoctor.k8s.canonical.spelling` prints (its canonical form, or the
user's own string where upstream keeps it, after rounding up to milli-units).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cluster import Cluster

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from amldoctor.k8s.canonical import spelling
from tests.quantity_values import quantity_values

pytestmark = pytest.mark.e2e

KEYS = [
    f"{prefix}{name}"
    for prefix in ("", "requests.", "limits.")
    for name in ("cpu", "memory", "ephemeral-storage")
]


def test_canonical_quantities_match_the_api_server(cluster: Cluster) -> None:
    values = quantity_values(300, seed=14)
    path = f"{cluster.ns_path}/resourcequotas"
    served: list[str] = []
    for start in range(0, len(values), len(KEYS)):
        batch = dict(zip(KEYS, values[start : start + len(KEYS)], strict=False))
        back = cluster.kube.create(
            path, {"metadata": {"name": f"spelling-{start}"}, "spec": {"hard": batch}}
        )
        served += [back["spec"]["hard"][key] for key in batch]
    wrong = {v: (s, spelling(v)) for v, s in zip(values, served, strict=True) if s != spelling(v)}
    print(f"\n{len(values)} quantities, {len(values) - len(wrong)} spelled as the API server does")
    assert not wrong, f"value: (apiserver, amldoctor): {wrong}"
