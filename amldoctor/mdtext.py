"""Markdown for tickets, shared by every command's `-o markdown`: escaped prose, fenced code.

Prose is escaped (`<cluster>` would vanish as an HTML tag), YAML snippets and shell commands go
in fenced code blocks so they paste whole, and tables are written unpadded. It sits below the
feature packages so why-pending, AML and scan render their Markdown the same way.
"""

from __future__ import annotations

from amldoctor.termtext import has_command


def escape(text: str) -> str:
    """Markdown-safe prose: angle brackets, ampersands and pipes shown as typed.

    Emphasis markers stay: GitHub does not emphasise inside words (DRIFT_BASELINE_URI), and
    the masking marker `***MASKED***` must read the same in every format.

    Backtick spans are kept: inside them Markdown shows text literally.
    """
    out, code = [], False
    for part in text.split("`"):
        if code:
            out.append(f"`{part}`")
        else:
            for char, repl in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
                part = part.replace(char, repl)
            out.append(part)
        code = not code
    return "".join(out)


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A GitHub table without padding."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("\n", "<br>") for cell in row) + " |" for row in rows]
    return lines


def _is_yaml(line: str) -> bool:
    stripped = line.strip()
    if not stripped or has_command(" " + stripped):
        return False
    if line.startswith((" ", "- ")):
        return True
    key, sep, rest = stripped.partition(":")
    return bool(sep) and " " not in key and (not rest or rest.startswith(" ")) and len(rest) < 60


def fix_markdown(remediation: str) -> list[str]:
    """Prose as paragraphs, YAML in ```yaml blocks, bare commands in ```sh blocks."""
    lines: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if block:
            lines.extend(["```yaml", *block, "```"])
            block.clear()

    for line in remediation.splitlines():
        if _is_yaml(line):
            block.append(line)
            continue
        flush()
        start = _bare_command_start(line)
        if start is None:
            lines.append(escape(line) + "  ")
            continue
        lead = line[:start].strip()
        if lead:
            lines.append(escape(lead))
        lines.extend(["```sh", _command_text(line[start:].strip()), "```"])
    flush()
    return lines


def _bare_command_start(line: str) -> int | None:
    """Where a command outside backticks starts on this line (it runs to the line's end).

    Backtick spans earlier on the line ("fewer workers (`instance_count`); or add nodes: az aks
    ...") do not hide a bare command after them; a command inside a span is already code.
    """
    for tool in ("amldoctor ", "kubectl ", "az ", "helm "):
        at = line.find(tool)
        while at >= 0:
            outside = line.count("`", 0, at) % 2 == 0 and "`" not in line[at:]
            if outside and (at == 0 or line[at - 1] in " :("):
                return at
            at = line.find(tool, at + 1)
    return None


def _command_text(text: str) -> str:
    """The command without the full stop that ends the sentence around it."""
    return text[:-1] if text.endswith(".") and not text.endswith(" .") else text
