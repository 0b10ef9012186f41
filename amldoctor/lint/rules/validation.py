"""AMD817: values the API server would reject (wrong types, invalid quantities and names).

`kubectl apply` fails on these at deploy time; lint should fail first, with the file and line.
The types come from the same declared shapes (`apishapes`) that make `scan` and `why-pending`
tolerate such input, so what lint reports here is exactly what those commands set aside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from amldoctor.apishapes import POD_SPEC, shape_of
from amldoctor.engine.registry import rule
from amldoctor.engine.report import Finding
from amldoctor.k8s import podtemplates
from amldoctor.k8s.quantity import QuantityError, parse_quantity
from amldoctor.k8s.resources import is_extended_resource
from amldoctor.lint.engine import LintContext
from amldoctor.lint.source import Document, FieldPath
from amldoctor.shapes import Problem, conform

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# Kinds whose names must be DNS-1123 labels (no dots, 63 characters); the others take
# subdomains (dots allowed, 253 characters).
_LABEL_NAMED_KINDS = frozenset({"Namespace", "Service"})
_INT64_MAX = 2**63 - 1
_RESOURCE_SECTIONS = ("requests", "limits")


@rule("AMD817", "invalid-field-value", severity="error", needs=(), scope="lint")
def invalid_field_value(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports values the API server rejects: a field of the wrong type (`containers: "x"`,
    `requests` written as a list, `tolerations` as a string), a resource quantity that is not a
    Kubernetes quantity (`cpu: lots`, `memory: 1e999Gi`) or is out of range (negative, or a
    30-digit GPU count), and object or container names that are not DNS-1123 names.

    ## Why is this bad?
    `kubectl apply` refuses the object, so the workload never starts; in a Helm release the
    whole upgrade fails. Other tools (and other amldoctor rules) cannot judge a value they
    cannot read, so the rest of the object was checked without it.

    ## Example
    ```yaml
    containers:
    - name: Trainer            # uppercase: not a DNS-1123 label
      resources:
        requests:
          cpu: lots            # not a quantity
    ```

    ## How to fix
    Write the value as the API expects it: lists as YAML lists, quantities as `500m`, `2`,
    `16Gi`, names in lowercase letters, digits and `-`.
    """
    for doc in ctx.manifests.documents:
        if not doc.kind or not doc.api_version:
            continue
        for path, message, fix in _problems(doc):
            yield ctx.finding(
                doc,
                path,
                message=f"{doc.kind} {doc.name}: {message}",
                evidence={"problem": message},
                remediation=fix,
            )


def _problems(doc: Document) -> Iterator[tuple[FieldPath, str, str]]:
    obj = doc.obj
    _, problems = conform(obj, shape_of(doc.kind))
    reported = set()
    for problem in problems:
        reported.add(problem.path)
        yield _path(problem.path), str(problem), _type_fix(problem)
    for site in podtemplates.sites(obj) or ():
        if site.shape in (podtemplates.INLINE, podtemplates.ARGO):
            spec = podtemplates.pod_spec(obj, site)
            _, spec_problems = conform(spec, POD_SPEC)
            for problem in spec_problems:
                path = (*site.path, *_path(problem.path))
                if problem.path not in reported:
                    yield (
                        path,
                        f"{_dotted(path)} must be {problem.expected}, not {problem.got}",
                        _type_fix(problem),
                    )
        for path, container, _ in podtemplates.container_paths(obj, site):
            yield from _container_problems(path, container)
    yield from _name_problems(doc)


def _container_problems(path: FieldPath, container: dict) -> Iterator[tuple[FieldPath, str, str]]:
    name = container.get("name")
    if isinstance(name, str) and name and not _is_label(name):
        yield (
            (*path, "name"),
            f"container name {name!r} is not a DNS-1123 label (lowercase letters, digits and "
            "'-', at most 63 characters)",
            f"name: {_suggest(name, 63)}",
        )
    resources = container.get("resources")
    if not isinstance(resources, dict):
        return
    for section in _RESOURCE_SECTIONS:
        values = resources.get(section)
        if not isinstance(values, dict):
            continue
        for resource, raw in values.items():
            problem = quantity_problem(str(resource), raw)
            if problem is not None:
                where = (*path, "resources", section, resource)
                yield where, f"{_dotted(where)}: {problem}", _quantity_fix(str(resource))


def quantity_problem(resource: str, raw: object) -> str | None:
    """Why the API server would refuse this resource quantity, or None when it is fine."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None  # a wrong type is reported by the shape check
    try:
        quantity = parse_quantity(raw)
    except (QuantityError, ValueError, OverflowError):
        return f"{raw!r} is not a Kubernetes quantity"
    value = quantity.value()
    if value < 0:
        return f"{raw!r} is negative; quantities must be 0 or more"
    if abs(value) > _INT64_MAX:
        return f"{raw!r} is larger than the largest quantity Kubernetes stores (2^63-1)"
    return None  # a fractional GPU count is AMD803's (gpu-request-not-limit)


def _name_problems(doc: Document) -> Iterator[tuple[FieldPath, str, str]]:
    name = doc.metadata.get("name")
    if not isinstance(name, str) or not name:
        return
    if doc.kind in _LABEL_NAMED_KINDS:
        if not _is_label(name):
            yield (
                ("metadata", "name"),
                f"name {name!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
                "starting and ending with a letter or digit, at most 63 characters)",
                f"name: {_suggest(name, 63)}",
            )
    elif len(name) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(name):
        yield (
            ("metadata", "name"),
            f"name {name!r} is not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', "
            "starting and ending with a letter or digit, at most 253 characters)",
            f"name: {_suggest(name, 253)}",
        )


def _is_label(value: str) -> bool:
    return len(value) <= 63 and _DNS1123_LABEL.fullmatch(value) is not None


def _suggest(name: str, limit: int) -> str:
    fixed = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:limit].strip("-")
    return fixed or "<lowercase-name>"


def _path(dotted: str) -> FieldPath:
    """'spec.containers[0].resources' -> ('spec', 'containers', 0, 'resources')."""
    parts: list[str | int] = []
    for piece in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        parts.append(int(piece[1:-1]) if piece.startswith("[") else piece)
    return tuple(parts)


def _dotted(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _type_fix(problem: Problem) -> str:
    examples = {
        "a list": "write it as a YAML list (one '- ' entry per item)",
        "an object": "write it as a YAML mapping (key: value lines, indented under it)",
        "an object (a map)": "write it as a YAML mapping of names to values",
        "a string": 'quote the value ("...")',
        "an integer": "write a whole number without quotes",
        "true or false": "write true or false without quotes",
        "a quantity": "write a quantity such as 500m, 2 or 16Gi",
    }
    return f"{problem.path}: " + examples.get(problem.expected, f"write {problem.expected}")


def _quantity_fix(resource: str) -> str:
    if is_extended_resource(resource):
        return f"{resource}: a whole number of devices, e.g. {resource}: 1"
    if resource == "cpu":
        return "cpu: cores (2) or millicores (500m)"
    return f"{resource}: bytes with a suffix, e.g. {resource}: 16Gi"
