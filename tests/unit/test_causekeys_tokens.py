"""`causekeys.replace_token` is the token regex it replaced, without a compile per name.

Hypothesis draws texts and names from an alphabet of the characters the boundaries care about
(letters, digits, `_`, `.`, `-`, a non-ASCII letter and digit, spaces) and compares with the
regex, so the equivalence is shown for the boundary rules, not for one example.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from amldoctor.engine.causekeys import replace_token

ALPHABET = "ab1_.-é٣ /:"


def _regex(text: str, name: str, mark: str) -> str:
    return re.sub(rf"(?<![\w.-]){re.escape(name)}(?![A-Za-z0-9])", mark, text)


@given(
    st.text(alphabet=ALPHABET, max_size=30),
    st.text(alphabet=ALPHABET, min_size=1, max_size=4),
)
def test_replace_token_is_the_token_regex(text: str, name: str) -> None:
    assert replace_token(text, name, "<object>") == _regex(text, name, "<object>")


def test_examples_from_the_docstring() -> None:
    assert replace_token("mounts missing-pvc-9tkz-data", "missing-pvc-9tkz", "<o>") == (
        "mounts <o>-data"
    )
    assert replace_token("image scipy-notebook", "notebook", "<o>") == "image scipy-notebook"
    assert replace_token("notebook2 notebook", "notebook", "<o>") == "notebook2 <o>"
