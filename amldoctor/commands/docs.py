"""`amldoctor rules` and `amldoctor explain`: the rule docs, generated from the rules themselves."""

from __future__ import annotations

import sys

from amldoctor.engine.registry import REGISTRY, find_rule, load_all
from amldoctor.errors import InputError
from amldoctor.render import check_format, make_console


def _all_rules():
    load_all()
    return [REGISTRY[code] for code in sorted(REGISTRY)]


def list_rules(output: str) -> None:
    fmt = check_format(output)
    rules = _all_rules()
    if fmt in ("json", "yaml"):
        from amldoctor.render.structured import to_json, to_yaml

        data = {
            "rules": [
                {
                    "code": r.code,
                    "name": r.name,
                    "family": r.family,
                    "severity": r.severity.label,
                    "scope": r.scope,
                    "needs": list(r.needs),
                    "summary": r.summary,
                }
                for r in rules
            ]
        }
        sys.stdout.write(to_json(data) + "\n" if fmt == "json" else to_yaml(data))
        return
    rows = [[r.code, r.name, r.family, r.severity.label, r.summary] for r in rules]
    headers = ["Code", "Name", "Family", "Severity", "Detects"]
    if fmt == "markdown":
        from tabulate import tabulate

        sys.stdout.write(tabulate(rows, headers=headers, tablefmt="github") + "\n")
        return
    from rich.table import Table

    table = Table(*headers, show_lines=False, header_style="bold")
    for row in rows:
        table.add_row(*row)
    make_console().print(table)


def explain(key: str) -> None:
    load_all()
    found = find_rule(key)
    if found is None:
        import difflib

        names = [r.code for r in REGISTRY.values()] + [r.name for r in REGISTRY.values()]
        close = difflib.get_close_matches(key, names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see `amldoctor rules`)"
        raise InputError(f"unknown rule {key!r}{hint}")
    from rich.markdown import Markdown

    console = make_console()
    header = (
        f"# {found.code} {found.name}\n\nFamily: {found.family} · default severity: "
        f"{found.severity.label}"
    )
    if found.needs:
        header += f" · reads: {', '.join(found.needs)}"
    console.print(Markdown(header + "\n\n" + found.doc))
