"""Pure parts of the http and webhook feeds: Standard Webhooks signatures, records found in a
JSON body, the since-timestamp, and the write-back backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from daemon.feeds.folder import SourceRecord
from daemon.feeds.http import flat, newest_since, records_in
from daemon.feeds.posting import backoff
from daemon.feeds.settings import FeedSettings
from daemon.feeds.webhook import secret_bytes, sign, verify

# The example of the Standard Webhooks specification.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID, SPEC_TS, SPEC_BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SPEC_NOW = datetime.fromtimestamp(1614265330, UTC)


def test_a_signature_matches_the_specifications_example():
    assert sign(secret_bytes(SPEC_SECRET), SPEC_ID, SPEC_TS, SPEC_BODY) == SPEC_SIGNATURE


def test_one_matching_signature_among_several_is_enough():
    header = f"v1,bm90IHRoaXMgb25l {SPEC_SIGNATURE}"
    key = secret_bytes(SPEC_SECRET)
    assert verify(key, SPEC_ID, SPEC_TS, header, SPEC_BODY, SPEC_NOW, 300) is None


def test_a_changed_body_fails_the_signature():
    key = secret_bytes(SPEC_SECRET)
    refused = verify(key, SPEC_ID, SPEC_TS, SPEC_SIGNATURE, b'{"test": 1}', SPEC_NOW, 300)
    assert refused is not None and (refused.status, refused.reason) == (401, "bad-signature")


def test_a_timestamp_past_the_tolerance_either_way_is_stale():
    key = secret_bytes(SPEC_SECRET)
    for off in (-301, 301):
        now = SPEC_NOW + timedelta(seconds=off)
        refused = verify(key, SPEC_ID, SPEC_TS, SPEC_SIGNATURE, SPEC_BODY, now, 300)
        assert refused is not None and refused.reason == "stale-timestamp"


def test_nested_objects_become_dotted_keys():
    assert flat({"caseNo": "A1", "customer": {"name": "王", "tags": ["vip"]}}) == {
        "caseNo": "A1",
        "customer.name": "王",
        "customer.tags": '["vip"]',
    }


def test_records_at_a_path_or_a_single_object_are_found():
    body = {"data": {"items": [{"caseNo": "A1"}, {"caseNo": "A2"}]}}
    assert [r.data["caseNo"] for r in records_in(body, "data.items", "p")] == ["A1", "A2"]
    assert [r.where for r in records_in({"caseNo": "B1"}, "", "hook")] == ["hook record 1"]


def test_the_since_timestamp_is_the_newest_value_as_the_source_wrote_it():
    zone = ZoneInfo("Asia/Shanghai")
    items = [
        SourceRecord("a", {"t": "2026-11-23 10:00"}),
        SourceRecord("b", {"t": "2026-11-23T03:30:00Z"}),  # 11:30 in Shanghai
        SourceRecord("c", {"t": "not a time"}),
    ]
    assert newest_since(items, "t", zone, "2026-11-23 09:00") == "2026-11-23T03:30:00Z"
    assert newest_since([], "t", zone, "2026-11-23 09:00") == "2026-11-23 09:00"


def test_write_back_retries_double_up_to_the_cap():
    feed = FeedSettings(
        name="x",
        oem="faw-vw",
        path="drop",
        fields={"case_id": "a", "dispatched_at": "b"},
        writeback_retry_initial_seconds=30,
        writeback_retry_max_seconds=100,
    )
    assert [backoff(feed, n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
