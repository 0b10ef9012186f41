"""The version and kind every JSON/YAML document amldoctor prints carries.

Runbooks and support scripts parse `scan -o json`, `why-pending -o json`, `lint -o json` and the
`manifest.json` of a bundle. `schema_version` tells them which shape they read (the JSON Schemas
are in docs/schemas/); `kind` tells apart documents that share a command (`why-pending POD` and
`why-pending --job`). Major version: a key removed or changed in meaning; minor: keys added.
"""

from __future__ import annotations

SCHEMA_VERSION = "2.1"

SCAN = "scan"
WHY_PENDING_POD = "why-pending-pod"
WHY_PENDING_JOB = "why-pending-job"
LINT = "lint"
RULES = "rules"


def versioned(kind: str | None, doc: dict) -> dict:
    """`doc` with `schema_version` (and `kind`, when given) first."""
    head: dict = {"schema_version": SCHEMA_VERSION}
    if kind is not None:
        head["kind"] = kind
    return {**head, **{k: v for k, v in doc.items() if k not in head}}
