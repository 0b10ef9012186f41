"""Azure's scale-up errors, read: which VM family quota, where, and what limit is needed.

A VMSS scale-out refused for quota fails with Azure's `OperationNotAllowed` text: "Operation
could not be completed as it results in exceeding approved <family> Cores quota. Additional
details - Deployment Model: Resource Manager, Location: <region>, Current Limit: N, Current
Usage: N, Additional Required: N, (Minimum) New Limit Required: N. ...". Regional vCPU quota
reads "exceeding approved Total Regional Cores quota".
"""

from __future__ import annotations

import re

_FAMILY_RE = re.compile(r"exceeding approved (?P<family>.+?) Cores quota", re.I)
_FIELDS = {
    "location": re.compile(r"Location: (?P<v>[A-Za-z0-9]+)"),
    "limit": re.compile(r"Current Limit: (?P<v>\d+)"),
    "usage": re.compile(r"Current Usage: (?P<v>\d+)"),
    "required": re.compile(r"Additional Required: (?P<v>\d+)"),
    "new_limit": re.compile(r"New Limit Required: (?P<v>\d+)"),
}


def quota_error(message: str) -> dict | None:
    """The quota named by an Azure scale-up error, or None when it is not a quota error."""
    found = _FAMILY_RE.search(message or "")
    if not found:
        return None
    out: dict = {"family": found.group("family").strip()}
    for key, pattern in _FIELDS.items():
        m = pattern.search(message)
        if m:
            value = m.group("v")
            out[key] = int(value) if value.isdigit() else value
    return out
