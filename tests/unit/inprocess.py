"""Run the real console entry point in this process: fast enough for a property-based fuzzer.

`main()` is what users run; here its stdout and stderr go to strings and its exit code is
returned. Anything that is not a `SystemExit` escapes: for a user that would be a traceback,
so a test that calls `invoke` fails with it.
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from unittest import mock

from amldoctor.cli import main


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def invoke(*args: str, stdin: str = "") -> Result:
    """`amldoctor ARGS...` in-process; the exit code as the shell would see it."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        redirect_stdout(out),
        redirect_stderr(err),
        mock.patch.object(sys, "argv", ["amldoctor", *args]),
        mock.patch.object(sys, "stdin", io.StringIO(stdin)),
    ):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())
