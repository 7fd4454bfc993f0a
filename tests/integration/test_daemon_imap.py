"""`complaintd run` watching IMAP mailboxes on a real Dovecot: push, outages, crashes, status."""

from __future__ import annotations

import email
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dovecot import Dovecot, Mailbox
from support import process
from support.daemon_run import DaemonProcess, query, wait_until
from support.harness import calendar_covering_today, write_config
from support.mail import complaint
from support.smtp_sink import SmtpSink

pytestmark = pytest.mark.dovecot

# "Within a couple of seconds": what IDLE plus an immediate outbox run must achieve.
PROMPT = 2.0


def toml_value(value: Any) -> str:
    # JSON strings, numbers, booleans and lists of them are valid TOML values.
    return json.dumps(value, ensure_ascii=False)


class Site:
    """One test's complaintd: its config, database and log, and the mailboxes it watches."""

    def __init__(self, folder: Path, sink: SmtpSink) -> None:
        self.folder = folder
        self.sink = sink
        self.database = folder / "complaintd.db"
        self.log = folder / "complaintd.log"
        self.config = folder / "config.toml"
        # DEBUG: the worker says when it is in IDLE, which the push tests wait for.
        self.service: dict[str, Any] = {"log_level": "DEBUG"}
        self.blocks: list[str] = []
        self.running: list[DaemonProcess] = []

    def watch(
        self, mb: Mailbox, name: str | None = None, password: str | None = None, **keys: Any
    ) -> str:
        """Add a [[mailboxes]] table for `mb` (plain IMAP on loopback, quick retries)."""
        name = name or mb.user
        table: dict[str, Any] = {
            "name": name,
            "host": mb.server.host,
            "port": mb.server.port,
            "security": "none",
            "username": mb.user,
            # Far longer than any test: whatever arrives is pushed by IDLE, not found by a poll.
            "poll_seconds": 3600,
            "timeout_seconds": 5,
            "retry_initial_seconds": 0.2,
            "retry_max_seconds": 1,
        }
        if keys.get("auth") != "xoauth2":
            secret = self.folder / f"{name}.password"
            secret.write_text((mb.password if password is None else password) + "\n")
            table["password_file"] = str(secret)
        table.update(keys)
        lines = ["[[mailboxes]]", *(f"{k} = {toml_value(v)}" for k, v in table.items())]
        self.blocks.append("\n".join(lines) + "\n")
        return name

    def write(self) -> Path:
        service = "".join(f"{k} = {toml_value(v)}\n" for k, v in self.service.items())
        extra = (f"[service]\n{service}\n" if service else "") + "\n".join(self.blocks)
        extra += "\n" + calendar_covering_today()
        return write_config(self.folder, f"sqlite:///{self.database}", self.sink.port, extra)

    def start(self) -> DaemonProcess:
        self.write()
        daemon = DaemonProcess(self.config, self.log)
        self.running.append(daemon)
        daemon.wait_for_log("complaintd ready", timeout=60)
        return daemon

    # --- looking in ------------------------------------------------------------------------

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return query(self.database, sql, *params)

    def count(self, table: str) -> int:
        return (
            int(self.rows(f"SELECT count(*) FROM {table}")[0][0])
            if self.rows("SELECT name FROM sqlite_master WHERE name = ?", table)
            else 0
        )

    def state(self, mailbox: str) -> dict[str, Any]:
        found = self.rows(
            "SELECT connected, last_ok_at, last_error, failing_since FROM mailbox_states"
            " WHERE mailbox = ?",
            mailbox,
        )
        if not found:
            return {}
        connected, last_ok_at, last_error, failing_since = found[0]
        return {
            "connected": bool(connected),
            "last_ok_at": last_ok_at,
            "last_error": last_error,
            "failing_since": failing_since,
        }

    def wait_watching(self, mailbox: str, timeout: float = 15.0) -> None:
        """Until the mailbox has been looked at once, so the daemon is (about to be) in IDLE."""
        wait_until(
            lambda: (
                bool(self.state(mailbox).get("last_ok_at"))
                and not self.state(mailbox)["failing_since"]
            ),
            timeout,
            f"mailbox {mailbox} watched",
        )

    def wait_failing(self, mailbox: str, timeout: float = 15.0) -> str:
        wait_until(
            lambda: bool(self.state(mailbox).get("failing_since")),
            timeout,
            f"mailbox {mailbox} reported failing",
        )
        return str(self.state(mailbox)["last_error"])

    def status(self, config: Path | None = None) -> tuple[int, dict[str, Any]]:
        result = process.run(
            "status", "--json", "--config", config or self.config, check=False, timeout=60
        )
        assert result.returncode in (0, 1), result.stderr
        return result.returncode, json.loads(result.stdout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@pytest.fixture
def site(tmp_path: Path, sink: SmtpSink) -> Iterator[Site]:
    s = Site(tmp_path, sink)
    yield s
    for daemon in s.running:
        if daemon.alive:
            daemon.stop()


def acked(sink: SmtpSink, address: str) -> int:
    return sum(1 for r in sink.to(address) if str(r.message["Subject"]).startswith("[TS-"))


def timed_ack(sink: SmtpSink, address: str, send: Callable[[], object], timeout: float) -> float:
    """Seconds from calling `send` until the acknowledgement to `address` is at the sink."""
    began = time.monotonic()
    send()
    wait_until(lambda: acked(sink, address) >= 1, timeout, f"acknowledgement to {address}")
    return time.monotonic() - began


def message_ids(messages: list[bytes]) -> list[str]:
    return [str(email.message_from_bytes(m)["Message-ID"]).strip("<>") for m in messages]


# --- push ----------------------------------------------------------------------------------


def test_a_complaint_appended_while_idling_is_acknowledged_within_two_seconds(
    site: Site, mailbox: Mailbox, sink: SmtpSink
) -> None:
    name = site.watch(mailbox)
    daemon = site.start()
    site.wait_watching(name)
    daemon.wait_for_log(f"{name}: in IDLE", timeout=10)

    took = timed_ack(
        sink, "idle@example.cn", lambda: mailbox.append(complaint(sender="idle@example.cn")), 10
    )

    assert took < PROMPT, f"acknowledged {took:.2f}s after APPEND"
    (ack,) = sink.to("idle@example.cn")
    assert ack.message["Subject"].startswith("[TS-")
    wait_until(lambda: mailbox.count("Processed") == 1, 5, "moved to Processed")
    assert mailbox.count("INBOX") == 0
    assert site.count("tickets") == 1


def test_a_mailbox_logs_in_with_xoauth2_from_a_token_file(
    site: Site, mailbox: Mailbox, sink: SmtpSink, tmp_path: Path
) -> None:
    introspection = mailbox.server.introspection
    token = tmp_path / "imap.token"
    token.write_text(introspection.grant(mailbox.user) + "\n")
    asked_before = introspection.requests
    name = site.watch(mailbox, auth="xoauth2", token_file=str(token))
    mailbox.append(complaint(sender="oauth@example.cn"))

    site.start()

    wait_until(lambda: acked(sink, "oauth@example.cn") == 1, 15, "acknowledgement")
    assert introspection.requests > asked_before  # Dovecot checked the bearer token
    assert site.state(name)["connected"] is True


# --- outages and failing mailboxes ---------------------------------------------------------


def test_after_dovecot_restarts_the_daemon_files_what_arrived_meanwhile(
    site: Site, own_dovecot: Dovecot, sink: SmtpSink
) -> None:
    mb = own_dovecot.mailbox()
    name = site.watch(mb)
    site.start()
    site.wait_watching(name)
    mb.append(complaint(sender="before@example.cn"))
    wait_until(lambda: acked(sink, "before@example.cn") == 1, 10, "first acknowledgement")

    own_dovecot.stop()
    site.wait_failing(name)
    mb.deliver_to_maildir(complaint(sender="meanwhile@example.cn"))
    own_dovecot.start()

    wait_until(lambda: acked(sink, "meanwhile@example.cn") == 1, 15, "acknowledgement after")
    wait_until(lambda: mb.count("Processed") == 2, 5, "both in Processed")
    assert mb.count("INBOX") == 0
    assert site.count("tickets") == 2
    wait_until(lambda: not site.state(name)["failing_since"], 5, "reported healthy again")


def test_a_mailbox_with_a_wrong_password_does_not_delay_another(
    site: Site, dovecot: Dovecot, sink: SmtpSink
) -> None:
    good, bad = dovecot.mailbox(), dovecot.mailbox()
    site.watch(good, name="good")
    site.watch(bad, name="bad", password="not-the-password")
    daemon = site.start()
    assert "login refused" in site.wait_failing("bad")
    site.wait_watching("good")
    daemon.wait_for_log("good: in IDLE", timeout=10)

    took = timed_ack(
        sink, "good@example.cn", lambda: good.append(complaint(sender="good@example.cn")), 10
    )

    assert took < PROMPT, f"acknowledged {took:.2f}s after APPEND"
    assert site.state("bad")["failing_since"]


def test_status_exits_1_only_once_a_mailbox_has_failed_longer_than_the_alert_time(
    site: Site, dovecot: Dovecot, tmp_path: Path
) -> None:
    site.service["mailbox_alert_minutes"] = 0.02  # 1.2 s
    site.watch(dovecot.mailbox(), name="good")
    site.watch(dovecot.mailbox(), name="bad", password="not-the-password")
    site.start()
    site.wait_failing("bad")
    site.wait_watching("good")
    patient = tmp_path / "patient.toml"
    patient.write_text(
        site.config.read_text().replace(
            "mailbox_alert_minutes = 0.02", "mailbox_alert_minutes = 60"
        )
    )

    early, _ = site.status(patient)
    wait_until(lambda: site.status()[0] == 1, 15, "status alerting after 1.2 s of failure")
    _, report = site.status()

    assert early == 0  # failing, but not yet for an hour
    rows = {row["mailbox"]: row for row in report["mailboxes"]}
    assert rows["bad"]["alert"] is True
    assert rows["bad"]["connected"] is False
    assert rows["bad"]["failing_since"]
    assert "login refused" in rows["bad"]["last_error"]
    assert rows["good"]["alert"] is False
    assert rows["good"]["connected"] is True
    assert rows["good"]["last_error"] is None


def test_status_exits_0_once_the_failing_mailbox_works_again(site: Site, dovecot: Dovecot) -> None:
    site.service["mailbox_alert_minutes"] = 0.02
    bad = dovecot.mailbox()
    site.watch(dovecot.mailbox(), name="good")
    site.watch(bad, name="bad", password="not-the-password")
    site.start()
    site.wait_failing("bad")
    wait_until(lambda: site.status()[0] == 1, 15, "status alerting after 1.2 s of failure")

    (site.folder / "bad.password").write_text(bad.password + "\n")  # read at the next login
    site.wait_watching("bad")
    site.wait_watching("good")
    code, report = site.status()

    assert code == 0, report
    assert [row["alert"] for row in report["mailboxes"]] == [False, False]
    assert all(row["connected"] for row in report["mailboxes"])


# --- UIDVALIDITY ---------------------------------------------------------------------------


@pytest.mark.parametrize("daemon_state", ["running", "stopped"])
def test_a_uidvalidity_change_does_not_file_old_mail_again(
    site: Site, mailbox: Mailbox, sink: SmtpSink, daemon_state: str
) -> None:
    # Mail stays where it is (no processed folder): only the checkpoint marks it as read, and
    # a rebuilt folder invalidates the checkpoint.
    mailbox.create_folder("Complaints")
    name = site.watch(mailbox, folder="Complaints", processed_folder="", quarantine_folder="")
    senders = [f"old{i}@example.cn" for i in range(3)]
    for sender in senders:
        mailbox.append(complaint(sender=sender), folder="Complaints")
    daemon = site.start()
    wait_until(lambda: all(acked(sink, s) == 1 for s in senders), 15, "first acknowledgements")
    tickets, messages, mails = site.count("tickets"), site.count("messages"), len(sink.received)
    queued = site.count("outbox")
    old = mailbox.uidvalidity("Complaints")

    if daemon_state == "stopped":
        assert daemon.stop() == 0
    kept = mailbox.recreate_folder("Complaints")
    new = mailbox.uidvalidity("Complaints")
    assert new != old and len(kept) == 3
    if daemon_state == "stopped":
        daemon = site.start()
    # The daemon has read the rebuilt folder once its checkpoint carries the new UIDVALIDITY.
    wait_until(
        lambda: (
            site.rows(
                "SELECT uidvalidity, last_uid FROM mailbox_checkpoints WHERE mailbox = ?", name
            )
            == [(new, 3)]
        ),
        15,
        "checkpoint under the new UIDVALIDITY",
    )

    # Filing commits with the checkpoint, so whatever was filed again is in the tables now;
    # nothing queued means nothing can be sent later either.
    assert "UIDVALIDITY of Complaints changed" in daemon.output()
    assert (site.count("tickets"), site.count("messages")) == (tickets, messages)
    assert site.count("outbox") == queued
    assert len(sink.received) == mails
    assert site.rows("SELECT count(*) FROM outbox WHERE status != 'sent'") == [(0,)]
    assert mailbox.count("Complaints") == 3  # left where it was


def test_mail_arriving_after_the_watched_folder_is_rebuilt_under_the_daemon_is_filed(
    site: Site, mailbox: Mailbox, sink: SmtpSink
) -> None:
    mailbox.create_folder("Complaints")
    name = site.watch(mailbox, folder="Complaints")
    mailbox.append(complaint(sender="first@example.cn"), folder="Complaints")
    daemon = site.start()
    wait_until(lambda: acked(sink, "first@example.cn") == 1, 10, "first acknowledgement")
    site.wait_watching(name)
    daemon.wait_for_log(f"{name}: in IDLE on Complaints", timeout=10)

    mailbox.recreate_folder("Complaints")
    mailbox.append(complaint(sender="after@example.cn"), folder="Complaints")

    wait_until(lambda: acked(sink, "after@example.cn") == 1, 15, "acknowledgement after rebuild")
    assert site.count("tickets") == 2


# --- crashes -------------------------------------------------------------------------------

CRASH_MESSAGES = 500
CRASH_KILLS = 4


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_no_message_and_no_acknowledgement(
    site: Site, mailbox: Mailbox, sink: SmtpSink, record_property: Callable[[str, object], None]
) -> None:
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    record_property("seed", seed)
    customers = [f"c{i:03d}@crash.example.cn" for i in range(CRASH_MESSAGES)]
    planted = [
        complaint(sender=address, name="", subject=f"投诉 {i}：保养后异响")
        for i, address in enumerate(customers)
    ]
    wanted = sorted(message_ids(planted))
    name = site.watch(mailbox)

    appended = threading.Event()
    failures: list[BaseException] = []

    def appender(pauses: random.Random) -> None:
        try:
            for start in range(0, CRASH_MESSAGES, 25):
                mailbox.append_many(planted[start : start + 25])
                time.sleep(pauses.uniform(0.05, 0.4))
        except BaseException as exc:  # noqa: BLE001 (reported by the test thread)
            failures.append(exc)
        finally:
            appended.set()

    daemon = site.start()
    feeder = threading.Thread(target=appender, args=(random.Random(seed + 1),), daemon=True)
    feeder.start()
    kills = 0
    began = time.monotonic()
    while kills < CRASH_KILLS:
        time.sleep(rng.uniform(0.3, 2.5))
        daemon.kill()
        kills += 1
        daemon = site.start()
    feeder.join(60)
    assert not failures, failures
    assert appended.is_set()

    # Filing first: every message in exactly one ticket, moved out of INBOX exactly once.
    wait_until(
        lambda: site.count("messages") >= CRASH_MESSAGES and mailbox.count("INBOX") == 0,
        30,
        f"seed {seed}: every message filed and moved",
        interval=0.2,
    )
    filed = site.rows("SELECT message_id, ticket_id FROM messages ORDER BY message_id")
    assert sorted(str(mid).strip("<>") for mid, _ in filed) == wanted  # each exactly once
    assert all(ticket is not None for _, ticket in filed)
    per_ticket = site.rows("SELECT ticket_id, count(*) FROM messages GROUP BY ticket_id")
    assert len(per_ticket) == CRASH_MESSAGES and {n for _, n in per_ticket} == {1}
    assert site.count("tickets") == CRASH_MESSAGES
    assert sorted(message_ids(mailbox.messages("Processed"))) == wanted

    # Then the acknowledgements: none missing; a second one after a kill between the SMTP
    # server's 250 and the 'sent' record is tolerated, and counted.
    def all_acknowledged() -> bool:
        unsent = site.rows("SELECT count(*) FROM outbox WHERE status != 'sent'")
        return unsent == [(0,)] and all(acked(sink, a) >= 1 for a in customers)

    try:
        wait_until(all_acknowledged, 20, "every customer acknowledged", interval=0.2)
    except AssertionError:
        by_status = site.rows("SELECT status, count(*) FROM outbox GROUP BY status")
        missing = [a for a in customers if acked(sink, a) == 0]
        raise AssertionError(
            f"seed {seed}: outbox by status {by_status}; {len(missing)} customers without an "
            f"acknowledgement, e.g. {missing[:3]}"
        ) from None
    took = time.monotonic() - began

    acks = Counter(a for a in customers for _ in range(acked(sink, a)))
    duplicates = sum(n - 1 for n in acks.values())
    record_property("duplicate_acknowledgements", duplicates)
    record_property("seconds", round(took, 1))
    print(
        f"{CRASH_MESSAGES} messages, {kills} SIGKILLs (seed {seed}): settled in {took:.1f}s, "
        f"{duplicates} duplicate acknowledgement(s)"
    )
    assert site.state(name)["connected"] is True
