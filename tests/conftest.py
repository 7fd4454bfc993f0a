"""Fixtures shared by every test: the corpus, the SMTP sink, databases, the fake clock."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support import postgres
from support.clock import FakeClock
from support.smtp_sink import SmtpSink

if TYPE_CHECKING:
    from support.harness import Harness

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("COMPLAINTD_CORPUS", ROOT.parent / "shared" / "corpus"))


@pytest.fixture(autouse=True)
def _root_logging() -> Iterator[None]:
    """A command run in-process (cli.main) points the root logger at the stderr this test
    captures, which is closed once the test ends: the next test gets the handlers it had."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The shared third-party corpus; in CI its absence is a failure, not a skip."""
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(
                f"corpus folder {CORPUS} is missing; CI needs ../shared/corpus beside the clone"
            )
        pytest.skip(f"corpus folder {CORPUS} not present")
    return CORPUS


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def sink(smtp_sink: SmtpSink) -> SmtpSink:
    """The session's SMTP sink, emptied for this test."""
    smtp_sink.clear()
    return smtp_sink


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database on each backend the daemon supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'complaintd.db'}"
        return
    postgres.require()
    name, url = postgres.create()
    try:
        yield url
    finally:
        postgres.drop(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'complaintd.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def harness(tmp_path: Path, db_url: str, sink: SmtpSink, clock: FakeClock) -> Iterator[Harness]:
    """complaintd configured against a fresh database (both backends) and the SMTP sink."""
    from support.harness import Harness, write_config  # imports the whole daemon

    h = Harness(write_config(tmp_path, db_url, sink.port), clock)
    yield h
    h.close()
