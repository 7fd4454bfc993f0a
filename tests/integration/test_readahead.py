"""complaintd replay reads the next batch in a second process while it files the last: the
reads are the ones this process would make, in order; a reader that dies loses nothing; on one
core no reader is started."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support import process
from support.harness import write_config
from support.mail import complaint

from daemon.pipeline import Reading, read
from daemon.sources import readahead
from daemon.values import RawMail, Received

READING = Reading(max_bytes=64 * 1024, budget_mb=320)
ARRIVED = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def batches(count: int, size: int = 3) -> list[list[Received]]:
    mails = [
        complaint(f"第{i}封投诉：刹车异响", message_id=f"<m{i}@x>") for i in range(count * size)
    ]
    mails[4] = b"\x00" * (READING.max_bytes + 1)  # refused as too large, by whoever reads it
    items = [Received(RawMail(m, f"test:{i}", ARRIVED)) for i, m in enumerate(mails)]
    return [items[k : k + size] for k in range(0, len(items), size)]


def read_here(given: list[list[Received]]) -> list[list[object]]:
    return [[read(item.raw.data, READING).msg for item in batch] for batch in given]


@pytest.fixture
def two_cores() -> None:
    """The reader runs only beside a second core; CI's machines have two, so there its
    absence is a failure, not a skip."""
    if len(os.sched_getaffinity(0)) < 2:
        if os.environ.get("CI"):
            pytest.fail("CI runs on two cores; the reader process cannot be tested on one")
        pytest.skip("a second core is needed for the reader process")


def test_the_reader_reads_each_batch_as_this_process_would(two_cores: None) -> None:
    given = batches(4)

    got = list(readahead.ahead(given, READING))

    assert [batch for batch, _ in got] == given
    assert [[r.msg for r in reads] for _, reads in got] == read_here(given)
    assert got[1][1][1].refused is not None and got[1][1][1].refused[0] == "too-large"


def test_the_next_batch_is_read_in_another_process_while_this_one_is_filed(
    two_cores: None,
) -> None:
    stream = readahead.ahead(batches(3), READING)
    next(stream)
    readers = multiprocessing.active_children()
    list(stream)

    assert [p.pid for p in readers] and all(p.pid != os.getpid() for p in readers)


def test_a_reader_that_dies_leaves_the_rest_read_here_and_nothing_lost(
    two_cores: None, caplog: pytest.LogCaptureFixture
) -> None:
    given = batches(5)
    stream = readahead.ahead(given, READING)
    got = [next(stream)]
    for reader in multiprocessing.active_children():
        os.kill(reader.pid, signal.SIGKILL)  # type: ignore[arg-type]
        reader.join()

    with caplog.at_level(logging.WARNING, logger="daemon.sources.readahead"):
        got += list(stream)

    assert [[r.msg for r in reads] for _, reads in got] == read_here(given)
    assert [r.getMessage() for r in caplog.records] == [
        "the reader process stopped; the rest is read in this one"
    ]


def test_on_one_core_no_reader_is_started() -> None:
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        stream = readahead.ahead(batches(2), READING)
        next(stream)
        readers = multiprocessing.active_children()
        rest = list(stream)
    finally:
        os.sched_setaffinity(0, cores)

    assert readers == []
    assert len(rest) == 1


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


@dataclass
class Replaying:
    """`complaintd replay` of 3,000 complaints under way, its reader started."""

    proc: subprocess.Popen[str]
    readers: list[int]
    folder: Path
    config: Path


def replaying(tmp_path: Path, db_url: str) -> Replaying:
    folder = tmp_path / "mail"
    folder.mkdir()
    for i in range(3000):
        (folder / f"{i:05d}.eml").write_bytes(complaint(f"第{i}封投诉", message_id=f"<k{i}@x>"))
    config = write_config(tmp_path, db_url, 25)
    # As from a terminal: a test runner's worker may ignore SIGINT, and a child inherits an
    # ignored signal (a handler of ours is reset to the default as the child starts).
    ignored = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = process.start("replay", folder, "--config", config)
    finally:
        signal.signal(signal.SIGINT, ignored)
    deadline = time.monotonic() + 60
    while not children(proc.pid) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    readers = children(proc.pid)
    assert readers, "the replay started no reader"
    return Replaying(proc, readers, folder, config)


def test_a_replay_that_is_killed_takes_its_reader_with_it(
    two_cores: None, tmp_path: Path, sqlite_url: str
) -> None:
    replay = replaying(tmp_path, sqlite_url)
    proc, readers = replay.proc, replay.readers

    proc.kill()
    proc.wait()

    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in readers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in readers)


def test_ctrl_c_stops_a_replay_and_its_reader_with_one_line_and_nothing_half_filed(
    two_cores: None, tmp_path: Path, sqlite_url: str
) -> None:
    replay = replaying(tmp_path, sqlite_url)
    proc, readers = replay.proc, replay.readers

    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130
    assert out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith("complaintd: interrupted after ") and "run again" in line
    recorded = int(line.removeprefix("complaintd: interrupted after ").split()[0])
    assert not any(alive(pid) for pid in readers)
    rerun = json.loads(process.run("replay", replay.folder, "--config", replay.config).stdout)
    assert (rerun["duplicates"], rerun["filed"]) == (recorded, 3000 - recorded)
