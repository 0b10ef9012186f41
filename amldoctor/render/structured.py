"""JSON and YAML: the machine-readable contract (README, "Output contract"), deterministic."""

from __future__ import annotations

import json

from amldoctor.yamlwrite import dump_yaml


def to_json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=False, default=str, ensure_ascii=False)


def to_yaml(data: dict) -> str:
    return dump_yaml(json.loads(to_json(data)), sort_keys=False, allow_unicode=True, width=120)
