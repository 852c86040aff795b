import datetime as dt

from backend.core.deadlines import end_of_day, watched_ids


def test_a_day_deadline_ends_at_local_midnight_and_watched_ids_skip_non_uuids() -> None:
    # 2026-10-09 ends at 2026-10-10 00:00 in Shanghai, i.e. 16:00 UTC on the 9th.
    assert end_of_day(dt.date(2026, 10, 9), "Asia/Shanghai") == dt.datetime(
        2026, 10, 9, 16, 0, tzinfo=dt.UTC
    )
    ident = "6f1f0d0e-8a5c-4f57-9a57-3c2c0e0f5b11"
    assert [str(u) for u in watched_ids([ident, "not-a-uuid"])] == [ident]
