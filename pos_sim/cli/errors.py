"""What the ``pos-sim`` commands exit with, and the errors they report in one line.

Exit codes: 0 done / valid / approved, 1 some images not read (scan) or a payment, void or refund
declined or cancelled (sale, void, refund) or a report the gateway disagrees with (report) or a
scenario that did not pass (scenario run), 2 invalid input or bad usage, 3 a payment, void or refund
whose outcome could not be made known (it is resolved when the terminal next opens), 70 an internal
fault (reported, never a traceback), 141 the reader of the output gone (``| head``: quietly, as a
process ended by SIGPIPE).
"""

from pathlib import Path

from pos_sim.language import _

EXIT_OK, EXIT_UNREAD, EXIT_INVALID, EXIT_INTERNAL = 0, 1, 2, 70
EXIT_DECLINED, EXIT_UNRESOLVED = 1, 3
EXIT_CLOSED_OUTPUT = 128 + 13  # 128 + SIGPIPE, what a shell shows for a Unix tool whose reader left
EXIT_FAILED = 1  # scenario run: a scenario did not pass


class UsageError(Exception):
    """Bad command-line input: reported as ``error: ...`` with exit 2."""


class ServiceError(Exception):
    """A service that cannot start (data dir, keys, database, port): reported with exit 2."""


def not_a_file(flag: str, path: Path) -> None:
    """A UsageError naming ``flag`` when ``path``, a folder it gives (made if it is not there), is a file."""
    if path.exists() and not path.is_dir():
        raise UsageError(_("{flag} {path} is a file, not a folder").format(flag=flag, path=path))
