"""Per-object memos: work derived from a snapshot (or a simulation) is done once per object.

A `scan` asks the same questions of one snapshot hundreds of times (every Pending pod needs the
nodes' requested sums, every gang the nodes' readiness). The answers are kept next to the object
they derive from, in a weak map, so they live exactly as long as the snapshot or the simulation
result and need no invalidation: snapshots are never modified once built.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_MEMO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def memo_on(owner: Any, key: object, build: Callable[[], T]) -> T:
    """`build()` once per (owner, key); forgotten with the owner.

    Owners that cannot be weakly referenced (plain dicts standing in for a snapshot) get no
    memo: the value is built on every call, which is correct, only slower.
    """
    try:
        per_owner = _MEMO.setdefault(owner, {})
    except TypeError:
        return build()
    try:
        return per_owner[key]
    except KeyError:
        value = per_owner[key] = build()
        return value
