"""`dump_yaml`: shared objects are written out whole, and the text loads back to the same data."""

from __future__ import annotations

import yaml
from hypothesis import given
from hypothesis import strategies as st

from amldoctor.yamlwrite import dump_yaml

_LEAVES = st.one_of(st.integers(), st.text(max_size=8), st.booleans(), st.none())
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(shared=_VALUES, flow=st.booleans())
def test_shared_objects_are_written_whole(shared, flow):
    data = {"requests": shared, "limits": shared, "again": [shared, shared]}
    text = dump_yaml(data, default_flow_style=flow, sort_keys=False)
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == data
