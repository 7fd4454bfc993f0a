"""Replies that must not act: each is held for review (or read as the customer's), changes
nothing on the ticket, and its sender learns only that it was not applied."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.org import ADVISOR, SERVICE_MANAGER, STORE_ORG
from support.smtp_sink import SmtpSink
from support.staffreply import (
    CUSTOMER,
    REPAIR,
    events_of,
    file,
    harness,
    held,
    notice_to,
    replies_config,
    reply,
    staff_desk,
    token_for,
)

from daemon.values import Disposition

__all__ = ["staff_desk"]

MX = "mx.dealer.example"


def unchanged(h: Harness, number: str) -> None:
    """Nothing a reply could do happened: the ticket is as filed, no command recorded."""
    ticket = h.ticket(number)
    assert ticket["status"] == "assigned"
    assert ticket["assignment"]["handler"] == "zheng_hao"
    assert events_of(h, number, "reply-applied") == []
    assert events_of(h, number, "transition")[-1]["detail"]["event"] == "assign"


def held_for(h: Harness, reason: str) -> None:
    (row,) = held(h)
    assert (row.reason, row.status) == (reason, "held")


def test_a_forged_from_without_a_token_is_held(staff_desk: Harness, sink: SmtpSink) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    forged = reply(notice, "关闭", to="complaints@dealer.example", in_reply_to="")
    assert staff_desk.deliver(forged).disposition is Disposition.HELD
    unchanged(staff_desk, number)
    held_for(staff_desk, "reply-no-token")
    assert [e["detail"]["reason"] for e in events_of(staff_desk, number, "held")] == [
        "reply-no-token"
    ]


def test_the_sender_is_told_only_that_it_failed_once_a_day(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    sink.clear()
    for text in ("签收", "已联系"):
        staff_desk.deliver(reply(notice, text, to="complaints@dealer.example", in_reply_to=""))
    staff_desk.send_outbox()
    (told,) = sink.to(SERVICE_MANAGER)
    assert REPAIR not in told.text and "变速箱" not in told.text + told.message["Subject"]
    assert "未能执行" in told.text
    unchanged(staff_desk, number)


def test_a_token_from_another_ticket_is_held(staff_desk: Harness, sink: SmtpSink) -> None:
    target = file(staff_desk)
    other = file(staff_desk, "新车交付时漆面有划痕，售后说不是他们的责任。")
    sink.clear()
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    assert other in notice.message["Subject"]
    subject = notice.message["Subject"].replace(other, target)
    data = reply(notice, "签收", in_reply_to="").replace(
        notice.message["Subject"].encode(), subject.encode()
    )
    assert staff_desk.deliver(data).disposition is Disposition.HELD
    unchanged(staff_desk, target)
    held_for(staff_desk, "reply-wrong-ticket")


def test_a_token_issued_to_another_person_is_held(staff_desk: Harness, sink: SmtpSink) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)  # forwarded to a colleague
    assert staff_desk.deliver(reply(notice, "签收", sender=ADVISOR)).disposition is (
        Disposition.HELD
    )
    unchanged(staff_desk, number)
    held_for(staff_desk, "reply-wrong-recipient")


def test_an_expired_token_is_held(staff_desk: Harness, sink: SmtpSink) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    staff_desk.clock.advance(days=31)
    assert staff_desk.deliver(reply(notice, "签收")).disposition is Disposition.HELD
    unchanged(staff_desk, number)
    held_for(staff_desk, "reply-expired")


@dataclass(frozen=True)
class Site:
    """One database and mail setup whose config can change (a key rotated)."""

    folder: Path
    db_url: str
    sink: SmtpSink
    clock: FakeClock

    def desk(self, signing: str, keys: tuple[str, ...]) -> Harness:
        config = STORE_ORG + replies_config(self.folder, signing, keys)
        return Harness(write_config(self.folder, self.db_url, self.sink.port, config), self.clock)


@pytest.fixture
def site(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Site:
    return Site(tmp_path, db_url, sink, clock)


@pytest.mark.parametrize(
    ("keys", "disposition", "status"),
    [
        (("k2",), Disposition.HELD, "assigned"),  # rotated out: no longer verifies
        (("k1", "k2"), Disposition.FOLLOWUP, "acknowledged"),  # still listed: verifies
    ],
)
def test_a_key_verifies_while_listed_and_not_once_rotated_out(
    site: Site, keys: tuple[str, ...], disposition: Disposition, status: str
) -> None:
    old = site.desk("k1", ("k1",))
    new = None
    try:
        number = file(old)
        notice = notice_to(old, site.sink, SERVICE_MANAGER)
        new = site.desk("k2", keys)
        assert new.deliver(reply(notice, "签收")).disposition is disposition
        assert new.ticket(number)["status"] == status
        if disposition is Disposition.HELD:
            held_for(new, "reply-unknown-key")
    finally:
        old.close()
        if new is not None:
            new.close()


def test_a_customer_cannot_give_a_staff_command(staff_desk: Harness, sink: SmtpSink) -> None:
    number = file(staff_desk)
    ack = notice_to(staff_desk, sink, CUSTOMER)
    for text in ("关闭", "#close", "转派 王磊"):
        outcome = staff_desk.deliver(
            reply(ack, text, sender=CUSTOMER, to="complaints@dealer.example")
        )
        assert outcome.disposition is Disposition.FOLLOWUP
    unchanged(staff_desk, number)
    assert {e["detail"]["role"] for e in events_of(staff_desk, number, "followup")} == {"customer"}


def test_a_token_only_the_delivering_server_names_is_honoured(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    # A client that drops the thread headers and shows the plain address: the plus address
    # survives only in the Delivered-To our server writes.
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    token = token_for(staff_desk, number, SERVICE_MANAGER)
    delivered = {"Delivered-To": f"complaints+{token}@dealer.example"}
    ack = reply(notice, "签收", to="complaints@dealer.example", in_reply_to="", headers=delivered)
    assert staff_desk.deliver(ack).disposition is Disposition.FOLLOWUP
    assert staff_desk.ticket(number)["status"] == "acknowledged"


def test_a_token_in_a_customers_reply_gives_them_nothing(
    staff_desk: Harness, sink: SmtpSink
) -> None:
    number = file(staff_desk)
    ack = notice_to(staff_desk, sink, CUSTOMER)
    token = token_for(staff_desk, number, CUSTOMER)
    to = f"complaints+{token}@dealer.example"
    assert staff_desk.deliver(reply(ack, "#close", sender=CUSTOMER, to=to)).disposition is (
        Disposition.FOLLOWUP
    )
    unchanged(staff_desk, number)


def test_the_same_reply_twice_applies_once(staff_desk: Harness, sink: SmtpSink) -> None:
    number = file(staff_desk)
    notice = notice_to(staff_desk, sink, SERVICE_MANAGER)
    data = reply(notice, "暂停 等厂家配件", message_id="<same-reply@client.example>")
    staff_desk.deliver(reply(notice, "已联系"))
    assert staff_desk.deliver(data).disposition is Disposition.FOLLOWUP
    assert staff_desk.deliver(data, origin="second-mailbox").disposition is Disposition.DUPLICATE
    assert staff_desk.ticket(number)["status"] == "paused"
    pauses = [e for e in events_of(staff_desk, number, "transition")
              if e["detail"]["event"] == "pause"]  # fmt: skip
    assert len(pauses) == 1
    confirmations = [m for m in staff_desk.ticket(number)["outbox"] if m["kind"] == "confirmation"]
    assert len(confirmations) == 2  # one for 已联系, one for the pause


@pytest.fixture
def strict_desk(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    extra = f'require_authentication = true\n\n[tickets]\ntrusted_authserv_ids = ["{MX}"]\n'
    yield from harness(tmp_path, db_url, sink, clock, replies_config(tmp_path, extra=extra))


def test_dmarc_fail_is_held_when_authentication_is_required(
    strict_desk: Harness, sink: SmtpSink
) -> None:
    number = file(strict_desk)
    notice = notice_to(strict_desk, sink, SERVICE_MANAGER)
    verdict = {"Authentication-Results": f"{MX}; dmarc=fail header.from=dealer.example"}
    assert strict_desk.deliver(reply(notice, "签收", headers=verdict)).disposition is (
        Disposition.HELD
    )
    unchanged(strict_desk, number)
    held_for(strict_desk, "dmarc-fail")


def test_no_verdict_fails_closed_when_authentication_is_required(
    strict_desk: Harness, sink: SmtpSink
) -> None:
    number = file(strict_desk)
    notice = notice_to(strict_desk, sink, SERVICE_MANAGER)
    forged = {
        "Authentication-Results": "mx.elsewhere.example; dmarc=pass header.from=dealer.example"
    }
    assert strict_desk.deliver(reply(notice, "签收", headers=forged)).disposition is (
        Disposition.HELD
    )
    unchanged(strict_desk, number)
    held_for(strict_desk, "reply-unauthenticated")


def test_dkim_pass_from_our_server_lets_the_reply_act(strict_desk: Harness, sink: SmtpSink) -> None:
    number = file(strict_desk)
    notice = notice_to(strict_desk, sink, SERVICE_MANAGER)
    verdict = {"Authentication-Results": f"{MX}; dkim=pass header.d=dealer.example"}
    assert strict_desk.deliver(reply(notice, "签收", headers=verdict)).disposition is (
        Disposition.FOLLOWUP
    )
    assert strict_desk.ticket(number)["status"] == "acknowledged"


def test_without_keys_a_command_is_only_a_note(
    tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock
) -> None:
    for h in harness(tmp_path, db_url, sink, clock, replies=""):
        number = file(h)
        notice = notice_to(h, sink, SERVICE_MANAGER)
        assert notice.message["Reply-To"] is None
        assert h.deliver(reply(notice, "签收")).disposition is Disposition.FOLLOWUP
        unchanged(h, number)
