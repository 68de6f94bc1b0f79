"""What the store raises."""

from __future__ import annotations


class StoreError(Exception):
    """The store cannot do what was asked: a database it cannot open, an unknown row it needs..."""


class LedgerError(StoreError):
    """A posting that cannot be made: unbalanced, an unknown account, a bad amount."""


class InsufficientFunds(LedgerError):
    """A posting that would take a wallet below zero; nothing of it was applied."""

    def __init__(self, account_id: str, amount: int) -> None:
        super().__init__(f"{account_id}: balance too low for {amount}")
        self.account_id = account_id
        self.amount = amount


class Duplicate(StoreError):
    """A row whose key (payment or refund request id, idempotency key, code...) is taken; nothing was written."""
