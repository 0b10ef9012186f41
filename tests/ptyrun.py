"""Run the CLI under a real pseudo-terminal of a given size, the way a user's terminal runs it.

Piped output is never wrapped; what a person sees at 80 or 100 columns (rich's wrapping, cut
headers, broken commands) only shows on a TTY, so those tests go through a pty.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time

from tests.conftest import ROOT

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_in_tty(
    *args: str, columns: int, rows: int = 50, timeout: float = 180.0, raw: bool = False
) -> tuple[int, str]:
    """(exit code, screen text) of `amldoctor ARGS` on a pty of that size.

    Colour codes are removed unless `raw`.
    """
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from amldoctor.cli import main; main()", *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=ROOT,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(leader)
    code = proc.wait(timeout=10)
    text = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
    return code, text if raw else _ANSI.sub("", text)


def screen_rows(text: str, columns: int) -> int:
    """Rows the text occupies on a terminal that soft-wraps long lines at `columns`."""
    return sum(max(1, -(-len(line) // columns)) for line in text.split("\n"))
