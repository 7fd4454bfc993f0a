"""Replay throughput and memory: `complaintd replay` against a parse-and-insert floor.

Generates N complaint mails (mixed charsets, HTML-only ones, some with attachments) into a
folder, then in the same run measures:

  floor     stdlib email parser + one SQLite row per message, committed one by one
  replay    `complaintd replay` (every stage, acknowledgements queued) into SQLite

and prints messages per second, the ratio, and each process's peak RSS. Peak RSS is measured
again at a quarter of N to show memory does not grow with the number of messages.

With --baseline, the same replay is also run from another checkout of complaintd (an export
of an earlier commit, say), alternating with this one for --rounds rounds, and each round
prints this tree's rate as a ratio of the baseline's: a change measured against the code
before it, on the same machine at the same time.

    .venv/bin/python benchmarks/replay.py [--messages 10000]
    git archive --prefix=base/ HEAD daemon templates | tar -x -C /tmp
    .venv/bin/python benchmarks/replay.py --messages 2000 --baseline /tmp/base --rounds 3
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PHRASES = [
    "车辆保养后发动机异响，多次到店都没有解决",
    "销售顾问承诺的赠品至今没有兑现，态度很差",
    "变速箱顿挫严重，已经第三次返修",
    "维修后刹车异响，要求给一个书面说明",
    "提车时发现漆面有划痕，要求更换或者赔偿",
    "售后服务顾问电话一直不接，太不负责任了",
    "空调不制冷，等配件等了一个月",
    "保险理赔手续拖了很久，希望尽快处理",
]
TRAD = [
    "車輛保養後發動機異響，多次到店都沒有解決",
    "維修後剎車異響，要求給一個書面說明",
    "銷售顧問態度很差，承諾的事情都不兌現",
]
ENGLISH = [
    "The brake warning light came on again after the service.",
    "Nobody called me back although I was promised a call within two hours.",
]


def word(text: str, charset: str) -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


def make_mail(i: int, rng: random.Random) -> bytes:
    kind = rng.random()
    sender = f"customer{i % 4000}@example.cn"
    if kind < 0.15:
        charset, text = "big5", "，".join(rng.sample(TRAD, 2)) + "。"
    elif kind < 0.25:
        charset, text = "utf-8", " ".join(rng.sample(ENGLISH, 2))
    else:
        charset = rng.choice(["gbk", "gb18030", "utf-8"])
        text = "，".join(rng.sample(PHRASES, 3)) + "。"
    label = "gb2312" if charset == "gb18030" else charset
    subject = text[:14]
    # Senders come back (N > 4000); a returning customer writes a new complaint, not the
    # same mail again, which would be recorded and ignored as a repeat.
    text += f" #{100000 + i}"
    headers = [
        f"From: {word('客户' + str(i), 'utf-8')} <{sender}>",
        "To: complaints@dealer.example",
        f"Subject: {word(subject, charset) if not subject.isascii() else subject}",
        "Date: Mon, 23 Nov 2026 09:00:00 +0800",
        f"Message-ID: <bench-{i}@client.example>",
        "MIME-Version: 1.0",
    ]
    body = base64.encodebytes(text.encode(charset)).decode()
    html = kind > 0.9
    ctype = "text/html" if html else "text/plain"
    if html:
        body = base64.encodebytes(
            f"<html><body><p>{text}</p></body></html>".encode(charset)
        ).decode()
    if rng.random() < 0.2:
        attachment = base64.encodebytes(rng.randbytes(rng.randint(2_000, 60_000))).decode()
        parts = (
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
            f"Content-Type: {ctype}; charset={label}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f'{body}\r\n--b\r\nContent-Type: image/jpeg; name="{word("照片.jpg", "utf-8")}"\r\n'
            "Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{attachment}\r\n--b--\r\n"
        )
        return ("\r\n".join(headers) + "\r\n" + parts).encode("ascii")
    return (
        "\r\n".join(headers)
        + f"\r\nContent-Type: {ctype}; charset={label}\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body
    ).encode("ascii")


def generate(folder: Path, count: int) -> None:
    rng = random.Random(20261123)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{i:06d}.eml").write_bytes(make_mail(i, rng))


FLOOR = r"""
import email, email.policy, os, sqlite3, sys
folder, db = sys.argv[1], sys.argv[2]
conn = sqlite3.connect(db, isolation_level=None)
conn.execute("PRAGMA journal_mode=WAL"); conn.execute("PRAGMA synchronous=NORMAL")
conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, mid TEXT UNIQUE, sender TEXT,"
             " subject TEXT, body TEXT, raw BLOB)")
for name in sorted(os.listdir(folder)):
    raw = open(os.path.join(folder, name), "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = msg.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    conn.execute("BEGIN")
    conn.execute("INSERT INTO m (mid, sender, subject, body, raw) VALUES (?,?,?,?,?)",
                 (str(msg["Message-ID"]), str(msg["From"]), str(msg["Subject"]), body, raw))
    conn.execute("COMMIT")
"""


# CPU seconds (user + system) of the last child run_child waited for: on a machine shared with
# other work the wall clock measures the neighbours too, the CPU time far less.
CPU: list[float] = [0.0]


def run_child(cmd: list[str], tree: Path = ROOT) -> tuple[float, int, str]:
    """Wall seconds, the child's own peak RSS in MiB, and its stdout."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, cwd=tree, env=os.environ | {"PYTHONPATH": str(tree)}
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        CPU[0] = usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{cmd[:4]} failed:\n{err.read().decode()[-2000:]}")
        return seconds, usage.ru_maxrss // 1024, out.read().decode()


def replay(folder: Path, work: Path, tree: Path = ROOT) -> tuple[float, int, dict[str, object]]:
    """`complaintd replay` of the folder, run from `tree`, into a fresh database in `work`."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    config = work / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{work / "db.sqlite"}"\n'
        f'[maildir]\nenabled = false\n[templates]\ndirectory = "{tree / "templates"}"\n'
        "[outbox]\nmax_auto_replies_per_recipient_per_day = 1000\n"
    )
    cmd = [sys.executable, "-m", "daemon.cli", "replay", str(folder), "--config", str(config)]
    seconds, peak, out = run_child(cmd, tree)
    return seconds, peak, json.loads(out)


def against_baseline(
    folder: Path, base: Path, baseline: Path, rounds: int, n: int, tree: Path = ROOT
) -> None:
    """This tree's replay rate as a ratio of the baseline tree's, round by round, by the wall
    clock and by CPU time."""
    walls, cpus = [], []
    for k in range(rounds):
        base_s, _, base_report = replay(folder, base / "baseline", baseline)
        base_cpu = CPU[0]
        ours_s, _, report = replay(folder, base / "ours", tree)
        assert report["filed"] == base_report["filed"] == n, (report, base_report)
        walls.append(base_s / ours_s)
        cpus.append(base_cpu / CPU[0])
        print(
            f"round {k + 1}: baseline {n / base_s:4.0f} msg/s {base_cpu:5.1f} s CPU, "
            f"this tree {n / ours_s:4.0f} msg/s {CPU[0]:5.1f} s CPU: "
            f"x{walls[-1]:.2f} wall, x{cpus[-1]:.2f} CPU"
        )
    print(
        f"this tree / baseline over {rounds} rounds: x{min(walls):.2f}..x{max(walls):.2f} wall,"
        f" x{min(cpus):.2f}..x{max(cpus):.2f} CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--baseline", type=Path, metavar="TREE", help="another checkout to compare with"
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds against the baseline")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="the checkout compared with --baseline (this one)"
    )
    args = parser.parse_args()
    n = args.messages
    with tempfile.TemporaryDirectory(prefix="complaintd-bench-") as tmp:
        base = Path(tmp)
        small, full = base / "small", base / "full"
        generate(full, n)
        generate(small, n // 4)
        size = sum(p.stat().st_size for p in full.iterdir())
        print(f"{n} messages, {size / 1e6:.1f} MB")
        if args.baseline is not None:
            baseline, tree = args.baseline.resolve(), args.tree.resolve()
            against_baseline(full, base, baseline, args.rounds, n, tree)

        floor_s, floor_peak, _ = run_child(
            [sys.executable, "-c", FLOOR, str(full), str(base / "floor.db")]
        )
        floor_cpu = CPU[0]
        small_s, small_peak, _small_report = replay(small, base / "replay-small")
        replay_s, replay_peak, report = replay(full, base / "replay-full")
        replay_cpu = CPU[0]
        assert report["filed"] == n, report

        floor_rate, replay_rate = n / floor_s, n / replay_s
        print(
            f"floor   (stdlib parse + 1 row/commit): {floor_rate:8.0f} msg/s  "
            f"{floor_s:6.1f} s  peak RSS {floor_peak} MiB"
        )
        print(
            f"replay  (complaintd, every stage)    : {replay_rate:8.0f} msg/s  "
            f"{replay_s:6.1f} s  peak RSS {replay_peak} MiB"
        )
        print(
            f"ratio replay/floor: {replay_rate / floor_rate:.2f} "
            f"(by CPU time: {floor_cpu:.1f} s / {replay_cpu:.1f} s = {floor_cpu / replay_cpu:.2f})"
        )
        print(
            f"peak RSS at {n // 4} messages: {small_peak} MiB; at {n}: {replay_peak} MiB "
            f"({small_s:.1f} s for the smaller run)"
        )


if __name__ == "__main__":
    main()
