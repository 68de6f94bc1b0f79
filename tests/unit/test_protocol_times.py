"""The times the AMS answers carry (``protocol.timestamp``): ISO 8601 to the second, in UTC, whatever the moment."""

from datetime import datetime, timedelta, timezone

import pytest

from pos_sim.backend.protocol import timestamp

SGT = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 12, 7, 9, 30, 5, tzinfo=timezone.utc), "2026-12-07T09:30:05+00:00"),
        (datetime(2026, 12, 7, 9, 30, 5, 999999, tzinfo=timezone.utc), "2026-12-07T09:30:05+00:00"),  # the second's last µs
        (datetime(2026, 12, 7, 17, 30, 6, 1, tzinfo=SGT), "2026-12-07T09:30:06+00:00"),
        (datetime(1970, 1, 1, tzinfo=timezone.utc), "1970-01-01T00:00:00+00:00"),
        (datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), "1969-12-31T23:59:59+00:00"),
        (datetime(2106, 2, 7, 6, 28, 16, tzinfo=timezone.utc), "2106-02-07T06:28:16+00:00"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc), "9999-12-31T23:59:59+00:00"),
    ],
)
def test_a_time_is_written_to_its_second_in_utc(moment: datetime, text: str) -> None:
    assert timestamp(moment) == text


def test_every_microsecond_of_a_day_is_written_as_its_second() -> None:
    start = datetime(2026, 12, 7, tzinfo=timezone.utc)
    for step in range(0, 86_400 * 10**6, 7_919_993):  # a prime number of µs: every part of a second is met
        moment = start + timedelta(microseconds=step)
        assert timestamp(moment) == moment.replace(microsecond=0).isoformat(), moment
    for second in (0, 1, 59, 86_399):  # the last microsecond of a second, twice in a row (the remembered text)
        moment = start + timedelta(seconds=second, microseconds=999_999)
        assert timestamp(moment) == timestamp(moment) == moment.replace(microsecond=0).isoformat()
