"""The outbox of payment result notifications: written with the result, sent after the commit
(pos_sim/backend/services/notifications.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update

from pos_sim.backend.store.errors import StoreError
from pos_sim.backend.store.ledger import Ledger
from pos_sim.backend.store.records import Notification
from pos_sim.backend.store.statements import Statement
from pos_sim.backend.store.tables import UtcDateTime, aware, notifications, utc

_ADD_NOTIFICATION = Statement(insert(notifications).returning(notifications.c.id))


class Outbox(Ledger):
    """A transaction's payment result notifications (a part of the store's ``Tx``)."""

    def add_notification(self, client_id: str, payment_id: str, url: str, body: str) -> int:
        """Queue a notification to ``url``, due now; its id."""
        at = self._now()
        row = {"client_id": client_id, "payment_id": payment_id, "url": url, "body": body, "attempts": 0,
               "next_at": at, "created_at": at}
        return int(_ADD_NOTIFICATION.rows(self._driver, row)[0][0])

    def claim_notifications(self, now: datetime, until: datetime, limit: int = 50) -> list[Notification]:
        """Undelivered notifications due at ``now``, oldest first, claimed: due again only at ``until``
        (the sender records the attempt before then), so another worker process sends none of them
        meanwhile; rows another transaction is claiming are skipped (PostgreSQL)."""
        query = (
            select(notifications)
            .where(notifications.c.delivered_at.is_(None), notifications.c.next_at <= aware(now))
            .order_by(notifications.c.next_at, notifications.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        due = [Notification(**row._mapping) for row in self._conn.execute(query)]
        if due:
            claimed = notifications.c.id.in_([notification.id for notification in due])
            self._conn.execute(update(notifications).where(claimed).values(next_at=utc(until)))
        return due

    def next_notification_at(self) -> datetime | None:
        """When the next undelivered notification is due, or None when all are delivered."""
        query = select(func.min(notifications.c.next_at)).where(notifications.c.delivered_at.is_(None))
        value = self._conn.execute(query).scalar_one()
        return None if value is None else UtcDateTime().process_result_value(value, self._conn.dialect)

    def notifications(self, payment_id: str) -> list[Notification]:
        """The notifications of a payment, oldest first."""
        query = select(notifications).where(notifications.c.payment_id == payment_id).order_by(notifications.c.id)
        return [Notification(**row._mapping) for row in self._conn.execute(query)]

    def notification_attempted(self, notification_id: int, *, delivered: bool, next_at: datetime | None = None,
                               error: str | None = None) -> None:
        """Record one delivery attempt: delivered, or failed with ``error`` and retried at ``next_at``."""
        values: dict[str, Any] = {"attempts": notifications.c.attempts + 1, "last_error": error}
        if delivered:
            values |= {"delivered_at": self._now(), "next_at": None}
        else:
            values["next_at"] = utc(next_at) if next_at is not None else None
        if self._conn.execute(update(notifications).where(notifications.c.id == notification_id).values(values)).rowcount != 1:
            raise StoreError(f"no notification {notification_id}")
