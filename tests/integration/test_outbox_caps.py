"""The daily cap on automatic mail per recipient: every kind counts, staff have their own cap,
the excess is kept as suppressed with the reason and logged once per address and day."""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.harness import ROOT, Harness, write_config
from support.mail import complaint
from support.org import CARE_MANAGER, STORE_ORG
from support.smtp_sink import SmtpSink

from daemon import notify
from daemon.values import Notice

CUSTOMER_CAP = 2
STAFF_CAP = 5


@pytest.fixture
def capped(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    """complaintd with the store's org chart and small caps, on both databases."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "probe.en.txt").write_text("Subject: {{ subject }}\n\n{{ text }}\n")
    path = write_config(tmp_path, db_url, sink.port, STORE_ORG)
    path.write_text(
        path.read_text()
        .replace(str(ROOT / "templates"), str(templates))
        .replace(
            "retry_max_seconds = 600",
            "retry_max_seconds = 600\n"
            f"max_auto_replies_per_recipient_per_day = {CUSTOMER_CAP}\n"
            f"max_staff_notices_per_recipient_per_day = {STAFF_CAP}",
        )
    )
    h = Harness(path, clock)
    yield h
    h.close()


def _complaint_from(n: int) -> bytes:
    return complaint(
        f"第{n}次投诉：车辆保养后发动机异响，一直没人处理，编号{n}。",
        sender=f"customer{n}@example.cn",
        subject=f"投诉{n}：保养后发动机异响",
    )


def _queue_other_kind(h: Harness, recipient: str) -> None:
    """A mail of another kind than an acknowledgement, to the same address."""
    notice = Notice("probe", "en", recipient, {"subject": "about your car", "text": "t"})
    with h.store.transaction() as session:
        notify.enqueue(session, notice, None, "confirmation", h.deps.composer, h.settings, h.now())


def test_other_kinds_of_automatic_mail_count_against_the_customers_daily_cap(capped):
    capped.deliver(complaint("车门异响，第一次来信。", sender="ann@example.cn"))
    _queue_other_kind(capped, "ann@example.cn")
    capped.deliver(complaint("空调不制冷，另一件事。", sender="ann@example.cn"))

    to_ann = [o for o in capped.outbox() if o.recipient == "ann@example.cn"]
    assert [(o.kind, o.status) for o in to_ann] == [
        ("acknowledgement", "pending"),
        ("confirmation", "pending"),
        ("acknowledgement", "suppressed"),
    ]
    assert f"daily cap of {CUSTOMER_CAP} automatic mails" in to_ann[2].last_error


def test_a_staff_address_gets_its_own_higher_cap_and_the_excess_is_kept_suppressed(capped):
    for n in range(STAFF_CAP + 3):
        capped.deliver(_complaint_from(n))

    rows = capped.outbox()
    to_manager = [o for o in rows if o.recipient == CARE_MANAGER]
    statuses = Counter(o.status for o in to_manager)
    assert statuses == {"pending": STAFF_CAP, "suppressed": 3}
    assert all("staff address" in o.last_error for o in to_manager if o.status == "suppressed")
    assert all(o.raw for o in to_manager)  # kept whole, never dropped
    assert all(o.status == "pending" for o in rows if o.kind == "acknowledgement")


def test_the_cap_starts_afresh_on_the_next_local_day(capped):
    for n in range(STAFF_CAP + 1):
        capped.deliver(_complaint_from(n))
    capped.clock.advance(days=1)
    capped.deliver(_complaint_from(99))
    last = [o for o in capped.outbox() if o.recipient == CARE_MANAGER][-1]
    assert last.status == "pending"


def test_the_first_suppression_per_address_and_day_is_logged_once(capped, caplog):
    with caplog.at_level(logging.DEBUG, logger="daemon.notify"):
        for n in range(STAFF_CAP + 4):
            capped.deliver(_complaint_from(n))
    warnings = [
        r
        for r in caplog.records
        if r.name == "daemon.notify" and r.levelno >= logging.WARNING and CARE_MANAGER in r.message
    ]
    assert len(warnings) == 1
    assert "suppressed" in warnings[0].message
