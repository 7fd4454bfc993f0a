"""When a saved message arrived, for `complaintd replay --as-received`."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.sources.replay import arrival

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def mail(*headers: str) -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\nbody").encode()


def test_the_topmost_received_header_gives_the_arrival() -> None:
    found = arrival(
        mail(
            "Received: from relay by mx.dealer.example; Mon, 23 Nov 2026 09:15:00 +0800",
            "Received: from client by relay; Mon, 23 Nov 2026 09:14:00 +0800",
            "Date: Sun, 22 Nov 2026 23:00:00 +0800",
        ),
        NOW,
    )
    assert (found.at, found.header, found.problem) == (
        datetime(2026, 11, 23, 1, 15, tzinfo=UTC),
        "Received",
        "",
    )


def test_a_folded_received_header_is_read_after_its_last_semicolon() -> None:
    found = arrival(mail("Received: from a (b; c)\r\n\tby d; Mon, 23 Nov 2026 09:15:00 +0800"), NOW)
    assert found.at == datetime(2026, 11, 23, 1, 15, tzinfo=UTC)


def test_a_received_header_without_a_date_gives_way_to_date_and_says_so() -> None:
    found = arrival(mail("Received: from a by b", "Date: Mon, 23 Nov 2026 09:00:00 +0800"), NOW)
    assert (found.at, found.header) == (datetime(2026, 11, 23, 1, 0, tzinfo=UTC), "Date")
    assert found.problem == "Received has no date"


def test_an_unreadable_date_falls_back_to_now_and_says_so() -> None:
    found = arrival(mail("Date: last Tuesday"), NOW)
    assert (found.at, found.header) == (NOW, "")
    assert "'last Tuesday' unreadable" in found.problem


def test_a_message_with_neither_header_arrives_now() -> None:
    assert arrival(mail("Subject: hi"), NOW).at == NOW


def test_an_unknown_zone_is_read_as_utc() -> None:
    found = arrival(mail("Received: from a by b; Mon, 23 Nov 2026 09:15:00 -0000"), NOW)
    assert found.at == datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
