"""A LIST page decoded with a collection's `Repeats` table (a namespace's scan) or its
`Strings` table (everything else): the same objects, repeated fields built once per text.

A namespace's scan does not walk every decoded object to share its strings (that walk cost
more CPU than the memory it saved there), but replicas must still share their repeated
fields: the scheduler simulation computes a shared `resources` block once (by identity).
"""

from __future__ import annotations

import json
import random

import pytest

from amldoctor import selective
from amldoctor.decodetypes import Repeats


def _pod(rng: random.Random, i: int) -> dict:
    cpu = rng.choice(["100m", "1", "2500m"])
    return {
        "metadata": {"name": f"p{i}", "namespace": f"ns{i % 3}", "uid": f"u{i}"},
        "spec": {
            "nodeName": f"n{rng.randint(0, 4)}",
            "containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
            "tolerations": [{"key": "sku", "operator": "Equal", "value": "gpu"}],
        },
        "status": {"phase": rng.choice(["Running", "Pending"])},
    }


def _page(pods: list[dict]) -> bytes:
    return json.dumps({"kind": "PodList", "metadata": {}, "items": pods}).encode()


@pytest.mark.parametrize("seed", range(5))
def test_repeats_table_decodes_what_the_strings_table_does(seed):
    rng = random.Random(seed)
    pages = [_page([_pod(rng, p * 10 + i) for i in range(10)]) for p in range(3)]
    repeats = Repeats()
    with_repeats = [
        item for data in pages for item in selective.decode_page("Pod", data, repeats)["items"]
    ]
    strings = selective.Strings()
    with_strings = [
        item for data in pages for item in selective.decode_page("Pod", data, strings)["items"]
    ]
    assert with_repeats == with_strings

    # one object per distinct repeated text, across the collection's pages
    def distinct(items: list[dict], field: str) -> int:
        values = [c[field] for p in items for c in p["spec"]["containers"]]
        return len({id(v) for v in values})

    texts = {json.dumps(c["resources"]) for p in with_repeats for c in p["spec"]["containers"]}
    assert distinct(with_repeats, "resources") == len(texts)
    assert len({id(p["spec"]["tolerations"]) for p in with_repeats}) == 1


def test_refused_page_with_a_repeats_table_falls_back_unshared():
    """A wrong-typed value refuses the typed decoder: the generic parse, pruned, as before."""
    from amldoctor.collect.transport import _page as transport_page

    bad = {"metadata": {"name": "x", "namespace": "a"}, "spec": {"nodeName": 7}}
    body, typed = transport_page("/api/v1/pods", "Pod", _page([bad]), Repeats())
    assert typed is False
    assert body["items"][0]["metadata"]["name"] == "x"
