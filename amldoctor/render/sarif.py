"""SARIF 2.1.0 for GitHub code scanning (`amldoctor lint -o sarif`).

Every lint rule is listed in `tool.driver.rules` with its docs as help text, so code scanning
shows the rule page next to the alert; each finding is a result located at its file and line.
Paths stay relative to where amldoctor ran (the repository root in CI, `%SRCROOT%`) so that
GitHub can match them to files; notes (skipped documents, unchecked references) become
tool notifications.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from amldoctor import __version__
from amldoctor.engine.registry import RuleMeta, iter_rules
from amldoctor.engine.report import Finding, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
STDIN_URI = "stdin"


def artifact_uri(file: str) -> dict:
    """artifactLocation for a path as given on the command line."""
    if file.startswith("<"):
        return {"uri": STDIN_URI}
    path = Path(file)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": "%SRCROOT%"}


def _rule_descriptor(rule: RuleMeta) -> dict:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.doc, "markdown": rule.doc},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": ["kubernetes", rule.family]},
    }


def _result(finding: Finding, index: dict[str, int]) -> dict:
    text = finding.message
    if finding.remediation:
        text += f"\nFix: {finding.remediation}"
    location: dict = {
        "physicalLocation": {
            "artifactLocation": artifact_uri(str(finding.evidence.get("file", ""))),
            "region": {"startLine": int(finding.evidence.get("line") or 1)},
        },
        "logicalLocations": [
            {
                "name": finding.object.name,
                "kind": "object",
                "fullyQualifiedName": str(finding.object),
            }
        ],
    }
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [location],
        "properties": {"evidence": finding.evidence},
    }
    if finding.rule in index:
        result["ruleIndex"] = index[finding.rule]
    return result


def report_sarif(report) -> dict:
    """`report` is an `amldoctor.lint.engine.LintReport`."""
    rules = list(iter_rules("lint"))
    index = {r.code: i for i, r in enumerate(rules)}
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "amldoctor",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://pypi.org/project/amldoctor/",
                        "rules": [_rule_descriptor(r) for r in rules],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": [
                            {"level": "note", "message": {"text": note}} for note in report.notes
                        ],
                    }
                ],
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
                "results": [_result(f, index) for f in report.findings],
            }
        ],
    }
