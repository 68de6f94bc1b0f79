"""The simulated provider's store: a double-entry ledger, merchants, payments, refunds, idempotency
records and one-time customer payment codes, on SQLite or PostgreSQL with the same SQLAlchemy Core code.

Money is integer minor units plus an ISO 4217 code. Every change happens inside ``Store.begin()``,
one database transaction: committed (durably, before the caller answers) on normal exit, rolled back
on an exception. A failed posting or a duplicate insert is undone alone, so the caller may catch
``InsufficientFunds`` or ``Duplicate`` and go on in the same transaction.

Speed. A pay runs eight statements, and what costs is Python, not SQL: the statements of the hot
paths are built once with named parameters (``_REMEMBERED``, ``_TAKE_CODE``, ``_MOVE``...) and run on
the driver's cursor (``statements.Statement``), as building a Core construct, or even running one
through SQLAlchemy, costs several times what SQLite takes to run it; savepoints are taken only where
something must be undone alone (SQLite undoes a failed statement by itself); and the kind and currency
of accounts, fixed once an account is made, are remembered by the store.

No hot row. Every pay of a merchant credits its account, and every cross-border or funding posting
moves a system account; on PostgreSQL, where transactions run at once, a posting to such a pooled
account (``POOLED_KINDS``) goes to one of its ``balance_shards`` that no other transaction holds, so
pays never wait for each other's commit. A wallet, checked against zero, keeps its balance in its row.

The package, a module a job (none imports a service or the edge: pyproject.toml's import-linter contract):

- ``database.py``: ``Store`` (open, migrate, ``begin``; the simulator's controls) and ``Tx``, one transaction;
- ``ledger.py``: accounts, postings and balance shards (``Ledger``, the base of ``Tx``);
- ``payments.py``: merchants, payments, refunds, customer payment codes, device tokens;
- ``idempotency.py``: the answer recorded under each call's idempotency key;
- ``notifications.py``: the outbox of payment result notifications;
- ``tables.py``, ``records.py``, ``errors.py``: the tables, the rows as values, what the store raises;
- ``statements.py``: the hot paths' statements, compiled once and run on the driver;
- ``transit.py``: the transit tables; ``keys.py``: key pairs in the data dir; ``clock.py``: the simulator's
  clock; ``migrations/``: the schema's Alembic revisions.
"""
