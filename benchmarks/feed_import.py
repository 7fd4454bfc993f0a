"""Manufacturer feed import throughput: one .xlsx of N cases against N e-mail complaints.

In one process, each into its own SQLite database with the daemon built once (not timed):

  mail       N complaint mails through the replay path (every stage, acknowledgements queued)
  feed       one .xlsx export holding N cases, read and imported (every stage)
  re-import  the same .xlsx again: every case known and unchanged, so nothing is written
  http       the same N cases from a paginated JSON endpoint (a real HTTP server on loopback,
             pages of 500), polled once from an empty cursor

and prints cases per second for each, the feed/mail ratio, and the re-import's share of the
first import's time (it should be under a tenth). A `complaintd feeds import` process adds
about a second of start-up (imports, templates) to either.

    .venv/bin/python benchmarks/feed_import.py [--cases 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl

from daemon import app, config
from daemon.deps import Deps, Run
from daemon.feeds import folder, http, ingest
from daemon.pipeline import process_batch
from daemon.sources import replay as replaying

sys.path.insert(0, str(Path(__file__).resolve().parent))
from replay import PHRASES, ROOT, generate  # the sibling benchmark's mail

sys.path.insert(0, str(ROOT / "tests"))
from support.oem_server import OemServer, pages  # the manufacturer the feed tests meet

PAGE = 500

HEADER = ["投诉单号", "派单时间", "投诉级别", "客户姓名", "联系电话", "车型", "投诉内容", "满意度"]
FEED = """
[[feeds]]
name = "dscrm"
oem = "faw-vw"
path = "drop"
levels = ["一般", "升级", "重要"]

[feeds.fields]
case_id = "投诉单号"
dispatched_at = "派单时间"
level = "投诉级别"
customer_name = "客户姓名"
customer_phone = "联系电话"
model = "车型"
text = "投诉内容"
survey_score = "满意度"
"""


HTTP_FEED = """
[[feeds]]
name = "oms"
oem = "geely"
kind = "http"
url = "{url}"
records_path = "data.items"
page_param = "page"
max_pages = 1000

[feeds.fields]
case_id = "case_no"
dispatched_at = "dispatched"
level = "level"
customer_name = "name"
customer_phone = "phone"
text = "content"
"""


def cases(count: int) -> list[dict[str, object]]:
    """The same kind of cases as JSON records, as a manufacturer's API returns them."""
    rng = random.Random(20261123)
    start = datetime(2026, 11, 23, 8, 30)  # noqa: DTZ001 (local, as the API writes it)
    return [
        {
            "case_no": f"OMS2026{i:08d}",
            "dispatched": (start + timedelta(minutes=i % 600)).strftime("%Y-%m-%d %H:%M"),
            "level": rng.choice(["一般", "升级", "重要"]),
            "name": f"客户{i}",
            "phone": str(13800000000 + i % 4000),
            "content": "，".join(rng.sample(PHRASES, 3)) + "。",
        }
        for i in range(count)
    ]


def poll_all(deps: Deps) -> tuple[float, http.PollReport]:
    began = time.perf_counter()
    report = asyncio.run(http.poll(deps.settings.feeds[0], deps))
    return time.perf_counter() - began, report


def export(path: Path, count: int) -> None:
    """An export as a dealer portal writes it: date cells, phone numbers as numbers."""
    rng = random.Random(20261123)
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("投诉")
    sheet.append(HEADER)
    start = datetime(2026, 11, 23, 8, 30)  # noqa: DTZ001 (a date cell is local, zoneless)
    for i in range(count):
        sheet.append(
            [
                f"DS2026{i:08d}",
                start + timedelta(minutes=i % 600),
                rng.choice(["一般", "升级", "重要"]),
                f"客户{i}",
                13800000000 + i % 4000,
                rng.choice(["迈腾", "速腾", "探岳", "宝来"]),
                "，".join(rng.sample(PHRASES, 3)) + "。",
                rng.choice([None, None, 3, 6, 8, 10]),
            ]
        )
    book.save(path)


def build(work: Path, extra: str = "") -> Deps:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "config.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{work / "db.sqlite"}"\n'
        f'[maildir]\nenabled = false\n[templates]\ndirectory = "{ROOT / "templates"}"\n'
        "[outbox]\nmax_auto_replies_per_recipient_per_day = 1000\n" + extra
    )
    settings = config.load(path)
    return app.build(settings, app.open_store(settings))


def file_mail(deps: Deps, mails: Path) -> tuple[float, int]:
    """Seconds to file every mail, and how many were filed (a few repeat a sender's text)."""
    began = time.perf_counter()
    filed = 0
    for batch in replaying.batches(replaying.read([mails], None)):
        done = process_batch(batch, deps, Run())
        filed += sum(1 for o in done.outcomes if o.ticket and o.disposition.value == "filed")
    return time.perf_counter() - began, filed


def import_export(deps: Deps, xlsx: Path) -> tuple[float, ingest.ImportReport]:
    began = time.perf_counter()
    report = ingest.ingest(folder.read_file(xlsx), deps.settings.feeds[0], deps, xlsx.name)
    return time.perf_counter() - began, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args()
    n = args.cases
    logging.disable(logging.WARNING)  # the per-message INFO lines are not what is measured
    with tempfile.TemporaryDirectory(prefix="complaintd-feed-bench-") as tmp:
        base = Path(tmp)
        mails, xlsx = base / "mails", base / "export.xlsx"
        generate(mails, n)
        export(xlsx, n)
        print(f"{n} cases: {xlsx.stat().st_size / 1e6:.1f} MB .xlsx; {n} complaint mails")
        mail_deps, feed_deps = build(base / "mail"), build(base / "feed", FEED)

        mail_s, filed = file_mail(mail_deps, mails)
        feed_s, first = import_export(feed_deps, xlsx)
        assert first.imported == n, first
        again_s, again = import_export(feed_deps, xlsx)
        assert (again.imported, again.updated, again.unchanged) == (0, 0, n), again

        records = cases(n)
        server = OemServer().start()
        try:
            server.handler = pages(*(records[i : i + PAGE] for i in range(0, n, PAGE)))
            http_deps = build(base / "http", HTTP_FEED.format(url=server.url("/cases")))
            http_s, polled = poll_all(http_deps)
        finally:
            server.stop()
        assert polled.records == n, polled

        rows = [
            (
                "mail       (replay path, every stage)",
                mail_s,
                f"  ({filed} filed, the rest repeats)",
            ),
            ("feed       (xlsx import, every stage)", feed_s, ""),
            ("re-import  (same file, nothing new)  ", again_s, ""),
            ("http       (pages of 500, every stage)", http_s, f"  ({polled.pages} pages)"),
        ]
        for label, seconds, note in rows:
            print(f"{label} : {n / seconds:8.0f} cases/s  {seconds:6.1f} s{note}")
        print(f"ratio feed/mail: {mail_s / feed_s:.2f}")
        print(f"ratio http/mail: {mail_s / http_s:.2f}")
        print(f"re-import / first import: {again_s / feed_s:.3f} (should be under 0.1)")


if __name__ == "__main__":
    main()
