"""AMD816: input that is not readable YAML or JSON.

A syntax error in one file must fail a CI gate (a half-rendered chart is not a clean chart),
but must not hide the findings in every other file: it is a finding like any other, with the
file and line the parser stopped at.
"""

from __future__ import annotations

from collections.abc import Iterator

from amldoctor.engine.registry import rule
from amldoctor.engine.report import Finding
from amldoctor.lint.engine import LintContext
from amldoctor.lint.source import Document


@rule("AMD816", "manifest-syntax-error", severity="error", needs=(), scope="lint")
def manifest_syntax_error(ctx: LintContext) -> Iterator[Finding]:
    """
    ## What it does
    Reports input files that are not valid YAML or JSON (or not UTF-8 text), at the line where
    the parser stopped. Documents before the error, and every other file, are still linted.

    ## Why is this bad?
    `kubectl apply` refuses the whole file, and a Helm template that renders broken YAML fails
    at install time; the objects after the error were never checked.

    ## Example
    ```yaml
    containers:
    - name: trainer
      image: myacr.azurecr.io/bert:1.4
       resources: {}        # indented one space too far
    ```

    ## How to fix
    Fix the syntax at the reported line (indentation, an unclosed quote or bracket, a tab used
    for indentation); `python -c 'import sys, yaml; list(yaml.safe_load_all(sys.stdin))' < FILE`
    reproduces the parser's message.
    """
    for problem in ctx.manifests.problems:
        doc = Document(problem.file, 0, {}, {(): problem.line})
        yield ctx.finding(
            doc,
            (),
            message=f"{problem.file} cannot be read at line {problem.line}: {problem.message}",
            evidence={},
            remediation="fix the syntax at that line; the objects after it in this file were not "
            "checked",
        )
