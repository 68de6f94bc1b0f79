"""The domain's own errors: every parser in ``domain`` raises one of these, and nothing else."""

from __future__ import annotations

from pos_sim.language import N_, Phrase, joined


class DomainError(ValueError):
    """Base of every error the domain raises on bad input."""


class AmountError(DomainError):
    """An amount or currency that cannot be taken as money (wrong precision, unknown currency...)."""


class CodeError(DomainError):
    """A payment code or barcode that does not parse or does not validate.

    ``offset`` is the character (MPM, barcodes) or byte (CPM) position where the fault lies,
    ``tag`` the EMV tag / data object ID concerned, when known. A ``Phrase`` message makes the whole
    message a ``Phrase`` ("wrong check digit... (offset 12)", said with its tag and offset in the
    merchant's language); ``str`` is the English either way.
    """

    def __init__(self, message: str, *, offset: int | None = None, tag: str | None = None) -> None:
        self.reason = message
        self.offset = offset
        self.tag = tag
        where = []
        if tag is not None:
            where.append(Phrase(N_("tag {tag}"), tag=tag))
        if offset is not None:
            where.append(Phrase(N_("offset {offset}"), offset=offset))
        if not where:
            super().__init__(message)
        elif isinstance(message, Phrase):
            super().__init__(Phrase("{reason} ({where})", reason=message, where=joined(where, ", ")))
        else:
            super().__init__(f"{message} ({', '.join(where)})")
