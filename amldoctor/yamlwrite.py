"""The one way amldoctor writes YAML: whole values, never anchors and aliases.

PyYAML writes an object referenced twice as `&id001` ... `*id001`. A fix built from one dict
used in two places (the same resources block for requests and limits, one toleration for two
containers) then prints anchors a user cannot paste into a single field, and `-o yaml` output
that scripts must resolve. Every YAML amldoctor prints goes through `dump_yaml`.
"""

from __future__ import annotations

from typing import Any

import yaml


class _WholeValueDumper(yaml.SafeDumper):
    """A safe dumper that writes every occurrence of a shared object out in full."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any, **options: Any) -> str:
    """`yaml.safe_dump(data, **options)` without anchors or aliases."""
    return yaml.dump(data, Dumper=_WholeValueDumper, **options)
