"""Errors that end a command with a documented exit code and one line on stderr.

The CLI catches these (and only these) to print `amldoctor: <message>` without a traceback.
"""


class AmldoctorError(Exception):
    """Base class: `exit_code` is what the process exits with."""

    exit_code = 2


class InputError(AmldoctorError):
    """Bad usage or input: unreadable or malformed snapshot, unknown pod or namespace (exit 2)."""

    exit_code = 2


class ClusterError(AmldoctorError):
    """The cluster cannot be reached or refuses our credentials (exit 3)."""

    exit_code = 3
