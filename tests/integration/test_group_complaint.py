"""Group complaints in production: customers about one matter within the window make it major."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.clock import FakeClock
from support.harness import Harness, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

MATTERS = """
[tickets]
vehicle_models = ["星越L"]
matters = ["2026款刹车召回"]
"""


@pytest.fixture
def store(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    h = Harness(write_config(tmp_path, db_url, sink.port, MATTERS), clock)
    yield h
    h.close()


def _brake(h: Harness, n: int, text: str = "我的星越L刹车异响，去店里修了还是响。") -> str:
    subject = f"刹车问题 {n}"
    number = h.deliver(complaint(text, sender=f"owner{n}@example.cn", subject=subject)).ticket
    assert number is not None
    return number


def test_the_third_customer_about_one_model_and_fault_makes_it_a_group_complaint(store):
    first, second = _brake(store, 0), _brake(store, 1)
    assert "group" not in store.ticket(first)["classification"]["major"]
    assert "group" not in store.ticket(second)["classification"]["major"]
    third = _brake(store, 2)
    assert "group" in store.ticket(third)["classification"]["major"]


def test_the_earlier_open_tickets_of_a_group_complaint_become_major_too(store):
    first, second, _third = (_brake(store, n) for n in range(3))
    assert store.ticket(first)["classification"]["major"] == ["group"]
    assert store.ticket(second)["classification"]["major"] == ["group"]


def test_customers_outside_the_window_do_not_make_a_group(store):
    _brake(store, 0)
    _brake(store, 1)
    store.clock.advance(days=31)  # past [classifier].repeat_window_days
    assert "group" not in store.ticket(_brake(store, 2))["classification"]["major"]


def test_one_customer_writing_three_times_is_not_a_group(store):
    numbers = [
        store.deliver(complaint(f"我的星越L刹车异响，第{n}次投诉。", subject=f"刹车 {n}")).ticket
        for n in range(3)
    ]
    assert "group" not in store.ticket(numbers[-1])["classification"]["major"]


def test_the_same_fault_on_another_model_is_another_matter(store):
    _brake(store, 0)
    _brake(store, 1)
    other = _brake(store, 2, "我的帝豪刹车异响，去店里修了还是响。")
    assert "group" not in store.ticket(other)["classification"]["major"]


def test_a_configured_matter_groups_whatever_the_wording(store):
    texts = [
        "2026款刹车召回一直没通知我。",
        "请问2026款刹车召回什么时候做？",
        "2026款刹车召回排不上队",
    ]
    numbers = [
        store.deliver(complaint(t, sender=f"m{n}@example.cn", subject=f"召回 {n}")).ticket
        for n, t in enumerate(texts)
    ]
    assert "group" in store.ticket(numbers[-1])["classification"]["major"]
