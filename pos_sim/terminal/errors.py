"""The terminal's own errors: each says what is wrong and where, for one line of output, never a traceback."""

from __future__ import annotations


class TerminalError(Exception):
    """Base of every error the terminal core raises on bad settings, input or files."""


class SettingsError(TerminalError, ValueError):
    """A setting the terminal cannot use: gateway URL, client id, key file, timeouts, polling."""


class JournalError(TerminalError):
    """A payment journal that cannot be opened or written, or a state change it refuses."""


class PaymentRequestError(TerminalError, ValueError):
    """A payment request that cannot be sent as given: amount, payment code, request id."""


class RegisterError(TerminalError):
    """A register operation refused before anything is sent: an empty cart, a receipt number the
    register does not hold, a void out of its batch or day, a refund of more than is left, a sales
    book another terminal process holds open."""
