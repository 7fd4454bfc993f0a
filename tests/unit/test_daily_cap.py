"""Which daily cap applies to an address: staff in the org chart have their own."""

from __future__ import annotations

from daemon.config import OutboxSettings, Settings
from daemon.notify import daily_cap
from daemon.org import OrgSettings, Person

SETTINGS = Settings(
    outbox=OutboxSettings(
        max_auto_replies_per_recipient_per_day=10, max_staff_notices_per_recipient_per_day=200
    ),
    org=OrgSettings(
        people=(Person("zhou_jie", "周杰", "Zhou.Jie@dealer.example", "customer_care_manager"),)
    ),
)


def test_a_staff_address_gets_the_staff_cap_however_it_is_capitalised():
    cap = daily_cap("zhou.jie@DEALER.example", SETTINGS)
    assert (cap.limit, cap.audience) == (200, "staff")


def test_any_other_address_gets_the_customer_cap():
    cap = daily_cap("ann@example.cn", SETTINGS)
    assert (cap.limit, cap.audience) == (10, "customer")
