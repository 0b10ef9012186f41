"""JUnit XML (`amldoctor lint -o junit`): one test suite per input file, for CI test reports.

CI systems (GitLab, Azure Pipelines, Jenkins) show JUnit results without plugins. Each error or
warning is a failed test case named after the rule and the object, with the fix in its body;
info findings are passed cases that carry their message, and a file with no findings is one
passed case, so every file checked shows up.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from amldoctor.engine.report import Finding, Severity


def _case(suite: ET.Element, f: Finding) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=str(f.evidence.get("file", "")),
        name=f"{f.rule} {f.name}: {f.object}",
    )
    where = f"{f.evidence.get('file', '')}:{f.evidence.get('line', '')}"
    body = (
        f"{where}\n{f.message}\nfix: {f.remediation}" if f.remediation else f"{where}\n{f.message}"
    )
    if f.severity >= Severity.WARNING:
        failure = ET.SubElement(case, "failure", message=f.message, type=f.severity.label)
        failure.text = body
    else:
        ET.SubElement(case, "system-out").text = body


def report_junit(report) -> str:
    """`report` is an `amldoctor.lint.engine.LintReport`."""
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_file[str(f.evidence.get("file", ""))].append(f)
    root = ET.Element("testsuites", name="amldoctor lint")
    total = failures = 0
    for file in sorted({*report.files, *by_file}):
        findings = by_file.get(file, [])
        failed = sum(1 for f in findings if f.severity >= Severity.WARNING)
        cases = max(len(findings), 1)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=file,
            tests=str(cases),
            failures=str(failed),
            errors="0",
            skipped="0",
        )
        for f in findings:
            _case(suite, f)
        if not findings:
            ET.SubElement(suite, "testcase", classname=file, name="no findings")
        total += cases
        failures += failed
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
