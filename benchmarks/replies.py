"""Staff replies against new complaints, filed through replay's own path.

Files a pool of N complaints (not timed), builds one staff reply per ticket as a mail client
sends it back (the handler answers the assignment notice: its plus-addressed Reply-To carries
the signed token, the notice is quoted below), then in the same run times, a batch of each in
turn so that the machine's other work weighs on both alike:

  complaints  N new complaints (acknowledgement, assignment and inform notices queued)
  replies     the N replies: ack; ack + contacted; a note; contacted + resolved with a result
              (the customer told the result and asked whether satisfied), half of them in
              English; each confirmed to its sender

both through what `complaintd replay` runs (sources.replay.batches -> pipeline.process_batch)
into SQLite, with the clock fixed, and prints each rate and their ratio, by the wall clock and
by this process's CPU time. One round's ratio varies by several hundredths from run to run
on a shared machine: --rounds repeats the whole measurement on fresh desks and prints the
median. --profile writes the reply phases' cProfile to a file and prints its top entries.

    .venv/bin/python benchmarks/replies.py [--replies 1000] [--rounds 5] [--only KINDS]
        [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import email
import email.policy
import logging
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from daemon import app, config  # noqa: E402
from daemon.deps import Deps, Run  # noqa: E402
from daemon.pipeline import process_batch  # noqa: E402
from daemon.sources import replay  # noqa: E402
from daemon.store.models import OutboxMail, Ticket, TicketEvent  # noqa: E402
from daemon.values import Disposition, Received  # noqa: E402

SH = ZoneInfo("Asia/Shanghai")
FILED_AT = datetime(2026, 11, 23, 9, 30, tzinfo=SH)  # a Monday morning, no holiday near
SIGNING_KEY = "benchmark-reply-signing-key-0123456789"

ORG = """
[[org.people]]
key = "zhao_gang"
name = "赵刚"
email = "zhao.gang@dealer.example"
role = "general_manager"

[[org.people]]
key = "zhou_jie"
name = "周杰"
email = "zhou.jie@dealer.example"
role = "customer_care_manager"
manager = "zhao_gang"

[[org.people]]
key = "qian_hong"
name = "钱红"
email = "qian.hong@dealer.example"
role = "service_director"
department = "after_sales"
manager = "zhao_gang"

[[org.people]]
key = "zheng_hao"
name = "郑浩"
email = "zheng.hao@dealer.example"
role = "service_manager"
department = "after_sales"
manager = "qian_hong"

[[org.people]]
key = "sun_li"
name = "孙丽"
email = "sun.li@dealer.example"
role = "sales_director"
department = "sales"
manager = "zhao_gang"

[[org.people]]
key = "wu_fang"
name = "吴芳"
email = "wu.fang@dealer.example"
role = "retail_manager"
department = "sales"
manager = "sun_li"
"""

COMPLAINTS = [
    "车辆在贵店维修后变速箱还是漏油，售后一直拖着不处理。",
    "保养后发动机异响，多次到店都没有解决，服务顾问态度很差。",
    "销售顾问承诺的赠品至今没有兑现，打电话也没人回。",
    "提车时发现漆面有划痕，要求更换或者赔偿。",
    "The brake warning light came on again after the service; nobody called me back.",
    "空调不制冷，等配件等了一个月，还没有消息。",
]

# What the handlers reply, in turn: (text at the top of the reply, commands it carries).
REPLIES = [
    ("签收\n下午给客户打电话", ("ack",)),
    ("#ack\n#contacted\nCalled the customer, he comes in tomorrow.", ("ack", "contacted")),
    ("备注 客户下午来店，先检查变速箱油封。", ("note",)),
    ("已联系客户\n已解决 更换了变速箱油封，试车两天无渗漏。", ("contacted", "resolved")),
    ("#note the customer asked for a loan car", ("note",)),
    ("#contacted\n#resolved Replaced the seal and test-drove the car for 20 km.", ("contacted",
                                                                                  "resolved")),
    ("已签收", ("ack",)),
    ("已联系\n客户同意明天上午来店。", ("contacted",)),
]  # fmt: skip


def write_config(work: Path) -> Path:
    (work / "k1.key").write_text(SIGNING_KEY, encoding="utf-8")
    path = work / "config.toml"
    path.write_text(
        f"""
[database]
url = "sqlite:///{work / "db.sqlite"}"

[maildir]
enabled = false

[templates]
directory = "{ROOT / "templates"}"

[outbox]
from_address = "complaints@dealer.example"
message_id_domain = "dealer.example"
max_auto_replies_per_recipient_per_day = 100000
max_staff_notices_per_recipient_per_day = 100000

[replies]
signing_key = "k1"
secrets.k1 = {{ file = "k1.key" }}
{ORG}
""",
        encoding="utf-8",
    )
    return path


def complaint(i: int, tag: str) -> bytes:
    text = COMPLAINTS[i % len(COMPLAINTS)]
    m = EmailMessage()
    m["From"] = f"客户{tag}{i} <customer.{tag}{i}@example.cn>"
    m["To"] = "complaints@dealer.example"
    m["Subject"] = f"投诉 {text[:12]}"
    m["Date"] = "Mon, 23 Nov 2026 09:00:00 +0800"
    m["Message-ID"] = f"<{tag}-{i}@client.example>"
    m.set_content(text)
    return m.as_bytes(policy=email.policy.SMTP)


def write_complaints(folder: Path, count: int, tag: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{tag}-{i:06d}.eml").write_bytes(complaint(i, tag))


def write_replies(
    folder: Path, deps: Deps, mix: list[tuple[str, tuple[str, ...]]] = REPLIES
) -> Counter[str]:
    """One reply per ticket from its handler to the assignment notice, taking the replies of
    `mix` in turn; the commands in them."""
    folder.mkdir(parents=True, exist_ok=True)
    commands: Counter[str] = Counter()
    with deps.store.transaction() as s:
        rows = s.execute(
            select(OutboxMail.raw, Ticket.number)
            .join(Ticket, Ticket.id == OutboxMail.ticket_id)
            .where(OutboxMail.kind == "assignment")
            .order_by(OutboxMail.id)
        ).all()
    for i, (raw, _number) in enumerate(rows):
        notice = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(notice, EmailMessage)
        text, kinds = mix[i % len(mix)]
        commands.update(kinds)
        body = notice.get_body(("plain",))
        shown = body.get_content() if body is not None else ""
        quoted = "\n".join(f"> {line}" for line in shown.splitlines())
        r = EmailMessage()
        r["From"] = notice["To"]
        r["To"] = notice["Reply-To"]
        r["Subject"] = f"Re: {notice['Subject']}"
        r["Date"] = "Mon, 23 Nov 2026 11:00:00 +0800"
        r["Message-ID"] = f"<reply-{i}@client.example>"
        r["In-Reply-To"] = notice["Message-ID"]
        r["References"] = notice["Message-ID"]
        r.set_content(f"{text}\n\n在 2026-11-23 10:05，客户关爱中心 写道：\n{quoted}\n")
        (folder / f"reply-{i:06d}.eml").write_bytes(r.as_bytes(policy=email.policy.SMTP))
    return commands


def file_folder(folder: Path, deps: Deps) -> tuple[float, Counter[Disposition]]:
    """Seconds to file every message in `folder` as replay does, and what became of them."""
    seen: Counter[Disposition] = Counter()
    start = time.perf_counter()
    for batch in replay.batches(replay.read([folder])):
        _file_batch(batch, deps, seen)
    return time.perf_counter() - start, seen


def file_in_turns(
    folders: dict[str, Path], deps: Deps, profile: cProfile.Profile | None, profiled: str
) -> dict[str, tuple[float, Counter[Disposition]]]:
    """File the folders a replay batch of each in turn, so that whatever else the machine does
    meanwhile weighs on each alike: seconds spent on each folder's batches, and what became of
    its messages. `profiled` names the folder whose batches `profile` records."""
    turns = {name: replay.batches(replay.read([folder])) for name, folder in folders.items()}
    spent = dict.fromkeys(folders, 0.0)
    CPU.update(dict.fromkeys(folders, 0.0))
    seen: dict[str, Counter[Disposition]] = {name: Counter() for name in folders}
    while turns:
        for name, batches in list(turns.items()):
            batch = next(batches, None)
            if batch is None:
                del turns[name]
                continue
            watched = profile if name == profiled else None
            if watched is not None:
                watched.enable()
            start, cpu = time.perf_counter(), time.process_time()
            _file_batch(batch, deps, seen[name])
            spent[name] += time.perf_counter() - start
            CPU[name] += time.process_time() - cpu
            if watched is not None:
                watched.disable()
    return {name: (spent[name], seen[name]) for name in folders}


# CPU seconds this process spent on each folder in file_in_turns: the machine's other work
# weighs on the wall clock far more than on these.
CPU: dict[str, float] = {}


def _file_batch(batch: list[Received], deps: Deps, seen: Counter[Disposition]) -> None:
    done = process_batch(batch, deps, Run())
    if done.error is not None:
        raise done.error
    seen.update(o.disposition for o in done.outcomes)


def count_events(deps: Deps, kind: str) -> int:
    with deps.store.transaction() as s:
        return int(
            s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == kind))
            or 0
        )


def one_round(
    n: int, mix: list[tuple[str, tuple[str, ...]]], profile: cProfile.Profile | None
) -> tuple[float, float, Counter[str]]:
    """A fresh desk: N tickets filed first, then N new complaints and N replies to the pool's
    assignment notices filed in turns. Seconds on the complaints, seconds on the replies, and
    the commands the replies gave."""
    with tempfile.TemporaryDirectory(prefix="complaintd-replies-") as tmp:
        work = Path(tmp)
        settings = config.load(write_config(work))
        store = app.open_store(settings)
        now = [FILED_AT.astimezone(ZoneInfo("UTC"))]
        deps = app.build(settings, store, lambda: now[0])

        write_complaints(work / "pool", n, "pool")
        _, pool = file_folder(work / "pool", deps)
        assert pool[Disposition.FILED] == n, pool
        commands = write_replies(work / "replies", deps, mix)
        assert sum(1 for _ in (work / "replies").iterdir()) == n, "a ticket without a handler"
        write_complaints(work / "new", n, "new")

        now[0] += timedelta(minutes=30)
        folders = {"new": work / "new", "replies": work / "replies"}
        filed = file_in_turns(folders, deps, profile, "replies")
        new_s, new = filed["new"]
        replies_s, replied = filed["replies"]
        assert new[Disposition.FILED] == n, new
        assert replied[Disposition.FOLLOWUP] == n, replied
        applied = count_events(deps, "reply-applied")
        assert applied == n, f"{applied} of {n} replies applied"
        store.dispose()
    return new_s, replies_s, commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--profile", type=Path, help="write the reply phase's cProfile here")
    parser.add_argument(
        "--only",
        help="only the replies whose commands are all among these, comma-separated "
        "(e.g. ack,contacted,note: the replies that mail nobody but their sender)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="fresh desks measured in turn; the median ratio"
    )
    args = parser.parse_args()
    n = args.replies
    logging.basicConfig(level=logging.WARNING)
    wanted = set(args.only.split(",")) if args.only else None
    mix = [r for r in REPLIES if wanted is None or set(r[1]) <= wanted]
    if not mix:
        parser.error(f"no reply in the mix has only {args.only}")
    profile = cProfile.Profile() if args.profile else None
    walls, cpus = [], []
    for k in range(args.rounds):
        new_s, replies_s, commands = one_round(n, mix, profile)
        if k == 0:
            given = ", ".join(f"{c} {v}" for c, v in sorted(commands.items()))
            print(f"{n} tickets filed first; {n} replies ({given})")
        complaints_rate, replies_rate = n / new_s, n / replies_s
        walls.append(replies_rate / complaints_rate)
        cpus.append(CPU["new"] / CPU["replies"])
        print(
            f"round {k + 1}: complaints {complaints_rate:6.1f} /s, replies {replies_rate:6.1f} /s;"
            f" ratio replies/complaints {walls[-1]:.2f} (by CPU time {cpus[-1]:.2f})"
        )
    print(
        f"median ratio replies/complaints over {args.rounds} round(s): "
        f"{statistics.median(walls):.2f} (by CPU time {statistics.median(cpus):.2f}; aim: >= 1)"
    )
    if profile is not None:
        profile.dump_stats(args.profile)
        pstats.Stats(str(args.profile)).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
