"""`complaintd run` reading an IMAP mailbox: backlog throughput against the floor, and latency.

Starts a throwaway Dovecot (the test harness) and an SMTP sink, then measures:

  backlog   N messages already waiting in the mailbox when the daemon starts: seconds until
            every one is filed and its acknowledgement queued (polling the database), and
            messages per second; beside it the floor of benchmarks/imap_floor.py (bare
            imapclient batched FETCH + stdlib parse + SQLite insert) over the same messages,
            in the same run, and the ratio daemon / floor (aim: >= 0.5).
  latency   M messages APPENDed one at a time to a mailbox the daemon watches: seconds from
            the APPEND until the acknowledgement arrives at the SMTP sink, p50 / p99 / max
            (aim: p99 < 2 s).

    .venv/bin/python benchmarks/imap_daemon.py                      # 10,000 and 200
    .venv/bin/python benchmarks/imap_daemon.py -n 2000 -m 50 --json
    .venv/bin/python benchmarks/imap_daemon.py --only latency
    .venv/bin/python benchmarks/imap_daemon.py --only backlog --profile-with py-spy

With --baseline TREE (another checkout of complaintd, e.g. an export of an earlier commit) the
backlog is also drained by the daemon run from that tree, alternating with this one for
--rounds rounds on fresh mailboxes, and each round prints this tree's rates (filed, and with
every acknowledgement delivered) as ratios of the baseline's, measured in the same run:

    git archive --prefix=base/ e505b6c daemon templates | tar -x -C /tmp
    .venv/bin/python benchmarks/imap_daemon.py --only backlog -n 3000 --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import email
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "integration"), str(ROOT / "tests"), str(ROOT)]

from dovecot import Dovecot, Mailbox  # noqa: E402  (the test harness, found through the path)
from imap_floor import messages, read_back  # noqa: E402
from support import process  # noqa: E402
from support.daemon_run import query  # noqa: E402
from support.harness import write_config  # noqa: E402
from support.smtp_sink import SmtpSink  # noqa: E402


def mailbox_table(mb: Mailbox, folder: Path) -> str:
    secret = folder / "imap.password"
    secret.write_text(mb.password + "\n")
    return f"""
[[mailboxes]]
name = "bench"
host = "{mb.server.host}"
port = {mb.server.port}
security = "none"
username = "{mb.user}"
password_file = "{secret}"
poll_seconds = 3600
timeout_seconds = 30
"""


class Daemon:
    """`complaintd run` over a fresh SQLite database in `folder`, log to a file."""

    def __init__(
        self, folder: Path, mb: Mailbox, sink: SmtpSink, profile: str = "", tree: Path = ROOT
    ) -> None:
        self.folder = folder
        self.database = folder / "complaintd.db"
        self.log = folder / "complaintd.log"
        config = write_config(
            folder, f"sqlite:///{self.database}", sink.port, mailbox_table(mb, folder)
        )
        templates = str(ROOT / "templates")
        config.write_text(config.read_text().replace(templates, str(tree / "templates")))
        argv = process.command("run", "--config", config)
        self.profile_out: Path | None = None
        if profile:
            self.profile_out = folder / "profile.txt"  # collapsed stacks, one per line
            argv = [
                profile,
                "record",
                "--threads",
                "--function",
                "--rate",
                "200",
                "--format",
                "raw",
                "--output",
                str(self.profile_out),
                "--",
                *argv,
            ]
        self.started = time.perf_counter()
        env = process.env() | {"PYTHONPATH": str(tree)}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=out, env=env, cwd=tree)

    def wait_ready(self, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while "complaintd ready" not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("daemon did not start:\n" + self.log.read_text()[-3000:])
            time.sleep(0.01)
        return time.perf_counter()

    def counts(self) -> tuple[int, int, int]:
        """(messages filed, acknowledgements queued, acknowledgements sent)."""
        filed = query(self.database, "SELECT count(*) FROM messages")
        acks = query(
            self.database,
            "SELECT count(*), coalesce(sum(status = 'sent'), 0) FROM outbox"
            " WHERE kind = 'acknowledgement'",
        )
        if not filed or not acks:
            return 0, 0, 0
        return int(filed[0][0]), int(acks[0][0]), int(acks[0][1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            # Under py-spy the daemon is its child: stop the daemon and py-spy writes its file.
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
            pids = children.read_text().split() if self.profile_out else []
            for pid in pids:
                os.kill(int(pid), signal.SIGTERM)
            if not pids:
                self.proc.terminate()
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def backlog(server: Dovecot, sink: SmtpSink, count: int, profile: str) -> dict[str, Any]:
    planted = list(messages(count))
    floor_box, daemon_box = server.mailbox(), server.mailbox()
    began = time.perf_counter()
    floor_box.append_many(planted)
    daemon_box.append_many(planted)
    append_seconds = time.perf_counter() - began

    with tempfile.TemporaryDirectory() as tmp:
        floor = read_back(server, floor_box.user, floor_box.password, 50, 1, Path(tmp) / "f.db")

    result = {"messages": count, "append_seconds": round(append_seconds, 2)}
    result |= drain(daemon_box, sink, count, profile, ROOT)
    result |= {
        "floor_seconds": round(floor["total_seconds"], 2),
        "floor_per_second": round(floor["messages_per_second"], 1),
        "ratio": round(result["daemon_per_second"] / floor["messages_per_second"], 3),
    }
    return result


def drain(mb: Mailbox, sink: SmtpSink, count: int, profile: str, tree: Path) -> dict[str, Any]:
    """Start the daemon of `tree` on a mailbox holding `count` messages: seconds until all are
    filed and their acknowledgements queued, and until every acknowledgement is delivered."""
    folder = Path(tempfile.mkdtemp(prefix="imap-daemon-bench-"))
    daemon = Daemon(folder, mb, sink, profile, tree)
    try:
        ready = daemon.wait_ready()
        queued_at = sent_at = None
        while sent_at is None:
            filed, queued, sent = daemon.counts()
            now = time.perf_counter()
            if queued_at is None and filed >= count and queued >= count:
                queued_at = now
            if sent >= count:
                sent_at = now
            if daemon.proc.poll() is not None:
                raise SystemExit("daemon died:\n" + daemon.log.read_text()[-3000:])
            time.sleep(0.1)
        inbox_left = mb.count("INBOX")
    finally:
        daemon.stop()
    assert queued_at is not None
    seconds = queued_at - ready
    result = {
        "daemon_start_seconds": round(ready - daemon.started, 2),
        "daemon_seconds": round(seconds, 2),
        "daemon_per_second": round(count / seconds, 1),
        "all_sent_seconds": round(sent_at - ready, 2),
        "sent_per_second": round(count / (sent_at - ready), 1),
        "inbox_left": inbox_left,
        "log": str(daemon.log),
    }
    if profile:
        assert daemon.profile_out is not None
        result["profile"] = str(daemon.profile_out)
        result["profile_summary"] = summarise(daemon.profile_out)
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def against_baseline(
    server: Dovecot, sink: SmtpSink, count: int, baseline: Path, rounds: int, tree: Path = ROOT
) -> dict[str, Any]:
    """This tree's backlog rates as ratios of the baseline tree's, alternating, round by round:
    filed and queued, and with every acknowledgement delivered."""
    planted = list(messages(count))
    runs = []
    for _ in range(rounds):
        pair = {}
        for name, run_from in (("baseline", baseline), ("this", tree)):
            mb = server.mailbox()
            mb.append_many(planted)
            pair[name] = drain(mb, sink, count, "", run_from)
        base, ours = pair["baseline"], pair["this"]
        runs.append(
            {
                "baseline_per_second": base["daemon_per_second"],
                "baseline_sent_per_second": base["sent_per_second"],
                "per_second": ours["daemon_per_second"],
                "sent_per_second": ours["sent_per_second"],
                "filed_ratio": round(ours["daemon_per_second"] / base["daemon_per_second"], 2),
                "sent_ratio": round(ours["sent_per_second"] / base["sent_per_second"], 2),
            }
        )
    return {"baseline": str(baseline), "messages": count, "rounds": runs}


# Leaf frames of a thread waiting, not working (py-spy samples some waits as active).
WAITING = (
    "_worker (concurrent/futures/thread.py",
    "EpollSelector.select",
    "IMAPClient._poll_socket",
    "wait (threading.py",
)


def summarise(collapsed: Path, top: int = 30) -> str:
    """Where the daemon's CPU went: per thread, then per function (inclusive and self), as
    shares of the samples in which a thread was working."""
    threads: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = waiting = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames[-1].startswith(WAITING):
            waiting += count
            continue
        total += count
        thread = frames[0].split(": ", 1)[-1] if frames[0].startswith("thread") else "?"
        threads[thread] = threads.get(thread, 0) + count
        for frame in set(frames[1:]):
            inclusive[frame] = inclusive.get(frame, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
    if not total:
        return "no samples"

    def table(counts: dict[str, int], keep: Callable[[str], bool], rows: int) -> list[str]:
        ranked = sorted(((n, f) for f, n in counts.items() if keep(f)), reverse=True)[:rows]
        return [f"  {100 * n / total:5.1f}%  {f}" for n, f in ranked]

    lines = [f"{total} samples working, {waiting} waiting"]
    lines += ["threads:", *table(threads, lambda f: True, 8)]
    lines += ["daemon functions, inclusive:", *table(inclusive, lambda f: "(daemon/" in f, top)]
    lines += ["any function, self:", *table(own, lambda f: True, 15)]
    return "\n".join(lines)


def latency(server: Dovecot, sink: SmtpSink, count: int) -> dict[str, Any]:
    mb = server.mailbox()
    folder = Path(tempfile.mkdtemp(prefix="imap-daemon-latency-"))
    daemon = Daemon(folder, mb, sink)
    samples: list[float] = []
    try:
        daemon.wait_ready()
        time.sleep(1.0)  # past the first look at the (empty) folder, into IDLE
        client = IMAPClient(server.host, server.port, ssl=False)
        client.login(mb.user, mb.password)
        for data in messages(count):
            recipient = str(email.message_from_bytes(data)["From"])
            before = len(sink.to(recipient))
            began = time.perf_counter()
            client.append("INBOX", data)
            deadline = began + 30
            while len(sink.to(recipient)) == before:
                if time.perf_counter() > deadline:
                    raise SystemExit(f"no acknowledgement to {recipient} within 30s")
                time.sleep(0.002)
            samples.append(time.perf_counter() - began)
        client.logout()
    finally:
        daemon.stop()
        shutil.rmtree(folder, ignore_errors=True)
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    return {
        "messages": count,
        "p50_seconds": round(pct(50), 3),
        "p90_seconds": round(pct(90), 3),
        "p99_seconds": round(pct(99), 3),
        "max_seconds": round(ordered[-1], 3),
        "mean_seconds": round(statistics.fmean(samples), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--messages", type=int, default=10_000, help="backlog size")
    parser.add_argument("-m", "--latency-messages", type=int, default=200)
    parser.add_argument("--only", choices=["backlog", "latency"])
    parser.add_argument(
        "--profile-with",
        default="",
        metavar="PY_SPY",
        help="record the backlog run with py-spy (path or name)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--baseline", type=Path, metavar="TREE", help="another checkout to compare the backlog with"
    )
    parser.add_argument("--rounds", type=int, default=2, help="rounds against the baseline")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="the checkout compared with --baseline (this one)"
    )
    args = parser.parse_args(argv)
    profile = ""
    if args.profile_with:
        beside = Path(sys.executable).parent / args.profile_with
        profile = shutil.which(args.profile_with) or (str(beside) if beside.exists() else "")
        if not profile:
            parser.error(f"{args.profile_with} not found (pip install py-spy)")

    server = Dovecot().start()
    sink = SmtpSink().start()
    results: dict[str, Any] = {}
    try:
        if args.baseline is not None:
            base = args.baseline.resolve()
            tree = args.tree.resolve()
            results["against"] = against_baseline(
                server, sink, args.messages, base, args.rounds, tree
            )
        if args.only in (None, "backlog"):
            results["backlog"] = backlog(server, sink, args.messages, profile)
        if args.only in (None, "latency"):
            results["latency"] = latency(server, sink, args.latency_messages)
    finally:
        sink.stop()
        server.close()

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    if "against" in results:
        a = results["against"]
        print(f"AGAINST  {a['baseline']}, {a['messages']} messages each")
        for k, r in enumerate(a["rounds"], 1):
            print(
                f"  round {k}: filed {r['baseline_per_second']:.0f} -> {r['per_second']:.0f} msg/s"
                f" (x{r['filed_ratio']:.2f}); all acknowledgements delivered "
                f"{r['baseline_sent_per_second']:.0f} -> {r['sent_per_second']:.0f} msg/s"
                f" (x{r['sent_ratio']:.2f})"
            )
    if "backlog" in results:
        b = results["backlog"]
        print(f"APPEND   {b['messages']} messages x2 mailboxes in {b['append_seconds']}s")
        print(f"FLOOR    {b['floor_per_second']:.0f} messages/s ({b['floor_seconds']}s)")
        print(
            f"DAEMON   {b['daemon_per_second']:.0f} messages/s: all filed and acknowledgements "
            f"queued {b['daemon_seconds']}s after READY (start took {b['daemon_start_seconds']}s;"
            f" all sent at {b['all_sent_seconds']}s; {b['inbox_left']} left in INBOX)"
        )
        print(f"RATIO    {b['ratio']:.2f} of the floor (aim >= 0.5)")
        if "profile" in b:
            print(f"PROFILE  {b['profile']}\n{b['profile_summary']}")
    if "latency" in results:
        lat = results["latency"]
        print(
            f"LATENCY  APPEND -> acknowledgement at the sink over {lat['messages']} messages: "
            f"p50 {lat['p50_seconds']}s, p90 {lat['p90_seconds']}s, p99 {lat['p99_seconds']}s, "
            f"max {lat['max_seconds']}s (aim p99 < 2s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
