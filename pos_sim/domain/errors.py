"""The domain's own errors: every parser in ``domain`` raises one of these, and nothing else."""

from __future__ import annotations


class DomainError(ValueError):
    """Base of every error the domain raises on bad input."""


class AmountError(DomainError):
    """An amount or currency that cannot be taken as money (wrong precision, unknown currency...)."""


class CodeError(DomainError):
    """A payment code or barcode that does not parse or does not validate.

    ``offset`` is the character (MPM, barcodes) or byte (CPM) position where the fault lies,
    ``tag`` the EMV tag / data object ID concerned, when known.
    """

    def __init__(self, message: str, *, offset: int | None = None, tag: str | None = None) -> None:
        self.reason = message
        self.offset = offset
        self.tag = tag
        where = []
        if tag is not None:
            where.append(f"tag {tag}")
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
