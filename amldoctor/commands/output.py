"""The one output boundary: a registry of formats per result type, and `emit`.

Every command builds a typed result (`commands.results`) and calls `emit(result, fmt)`. `emit`
masks credentials once (`result.redacted()`) and hands the masked copy to the renderer
registered for that result type and format, so every format of every command is masked the
same way. A new format or a new command is one `@renders(ResultType, "format")` function here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

from amldoctor.commands.results import (
    DumpResult,
    JobExplanation,
    LintResult,
    PodExplanation,
    ScanResult,
)
from amldoctor.render import check_format

R = TypeVar("R")


@dataclass
class Output:
    """Where a renderer writes: text to stdout, a rich console, or notes to stderr."""

    out: TextIO
    err: TextIO

    def write(self, text: str) -> None:
        self.out.write(text)

    def console(self) -> Any:
        from amldoctor.render import make_console

        return make_console(stream=self.out)


Renderer = Callable[[Any, Output], None]
_RENDERERS: dict[type, dict[str, Renderer]] = {}


def renders(result_type: type[R], *formats: str) -> Callable[[Callable[[R, Output], None]], Any]:
    """Register the decorated function as `result_type`'s renderer for each of `formats`."""

    def register(fn: Callable[[R, Output], None]) -> Callable[[R, Output], None]:
        for fmt in formats:
            _RENDERERS.setdefault(result_type, {})[fmt] = fn
        return fn

    return register


def formats_for(result_type: type) -> tuple[str, ...]:
    """The formats a command's `-o` accepts, in registration order (table first)."""
    return tuple(_RENDERERS.get(result_type, {}))


def checked_format(result_type: type, fmt: str) -> str:
    """Validate `-o` before any work is done; an unknown format is a usage error (exit 2)."""
    return check_format(fmt, formats_for(result_type))


def emit(result: Any, fmt: str, output: Output | None = None) -> None:
    """Mask the result once, then render it in `fmt`."""
    renderer = _RENDERERS[type(result)][fmt]
    renderer(result.redacted(), output or Output(sys.stdout, sys.stderr))


def _json(result: Any, out: Output) -> None:
    """Every result's JSON: its versioned document (`to_dict`), the same for each command."""
    from amldoctor.render.structured import to_json

    out.write(to_json(result.to_dict()) + "\n")


def _yaml(result: Any, out: Output) -> None:
    """Every result's YAML: the same document as its JSON."""
    from amldoctor.render.structured import to_yaml

    out.write(to_yaml(result.to_dict()))


# -- scan --------------------------------------------------------------------------------------


@renders(ScanResult, "table")
def _scan_table(result: ScanResult, out: Output) -> None:
    from amldoctor.render.console import render_report

    render_report(out.console(), result.report, expand=result.expand)


renders(ScanResult, "json")(_json)
renders(ScanResult, "yaml")(_yaml)


@renders(ScanResult, "markdown")
def _scan_markdown(result: ScanResult, out: Output) -> None:
    from amldoctor.render.markdown import report_markdown

    out.write(report_markdown(result.report))


# -- why-pending POD / -f ----------------------------------------------------------------------


@renders(PodExplanation, "table")
def _pod_table(result: PodExplanation, out: Output) -> None:
    from amldoctor.whypending.render import render_console

    render_console(out.console(), result.document, result.source)


renders(PodExplanation, "json")(_json)
renders(PodExplanation, "yaml")(_yaml)


@renders(PodExplanation, "markdown")
def _pod_markdown(result: PodExplanation, out: Output) -> None:
    from amldoctor.whypending.render import render_markdown

    out.write(render_markdown(result.document))


# -- why-pending --job -------------------------------------------------------------------------


@renders(JobExplanation, "table")
def _job_table(result: JobExplanation, out: Output) -> None:
    from amldoctor.aml.render import render_explain

    render_explain(out.console(), result.document)


renders(JobExplanation, "json")(_json)
renders(JobExplanation, "yaml")(_yaml)


@renders(JobExplanation, "markdown")
def _job_markdown(result: JobExplanation, out: Output) -> None:
    from amldoctor.aml.render import explain_markdown

    out.write(explain_markdown(result.document))


# -- lint --------------------------------------------------------------------------------------


@renders(LintResult, "table")
def _lint_table(result: LintResult, out: Output) -> None:
    from amldoctor.render.lint import render_lint

    render_lint(out.console(), result.report)


renders(LintResult, "json")(_json)
renders(LintResult, "yaml")(_yaml)


@renders(LintResult, "markdown")
def _lint_markdown(result: LintResult, out: Output) -> None:
    from amldoctor.render.lint import lint_markdown

    out.write(lint_markdown(result.report))


@renders(LintResult, "sarif")
def _lint_sarif(result: LintResult, out: Output) -> None:
    from amldoctor.render.sarif import report_sarif
    from amldoctor.render.structured import to_json

    out.write(to_json(report_sarif(result.report)) + "\n")


@renders(LintResult, "junit")
def _lint_junit(result: LintResult, out: Output) -> None:
    from amldoctor.render.junit import report_junit

    out.write(report_junit(result.report))


# -- dump --------------------------------------------------------------------------------------


@renders(DumpResult, "table")
def _dump_summary(result: DumpResult, out: Output) -> None:
    """The bundle is the output; the summary is a note on stderr."""
    lines = [f"wrote {result.path}: {result.objects} objects of {result.kinds} kinds"]
    if result.not_installed:
        lines.append(f"  not installed in this cluster: {', '.join(result.not_installed)}")
    lines += [f"  not read: {text}" for text in result.not_read]
    out.err.write("".join(line + "\n" for line in lines))
