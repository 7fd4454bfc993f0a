"""Dovecot for the integration tests: one per session (per xdist worker), a fresh user per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dovecot import Dovecot, Mailbox, available

_started: list[Dovecot] = []


def _dovecot_or_skip() -> None:
    problem = available()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"Dovecot is needed in CI: {problem}")
        pytest.skip(f"Dovecot not available: {problem}")


def _start(server: Dovecot) -> Dovecot:
    _started.append(server)
    return server.start()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """The session's Dovecot (IDLE, MOVE, UIDPLUS, XOAUTH2, TLS on tls_port, STARTTLS on port)."""
    _dovecot_or_skip()
    server = _start(Dovecot())
    yield server
    server.close()


@pytest.fixture(scope="session")
def dovecot_without_idle() -> Iterator[Dovecot]:
    """A second Dovecot that does not announce IDLE."""
    _dovecot_or_skip()
    server = _start(Dovecot(idle=False))
    yield server
    server.close()


@pytest.fixture
def own_dovecot() -> Iterator[Dovecot]:
    """A Dovecot of this test's own, for tests that stop and restart the server."""
    _dovecot_or_skip()
    server = _start(Dovecot())
    yield server
    server.close()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    """A new user on the session's Dovecot: an empty INBOX no other test sees."""
    return dovecot.mailbox()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield
    if report.failed and any(
        name.startswith(("dovecot", "own_dovecot", "mailbox"))
        for name in getattr(item, "fixturenames", ())
    ):
        for server in (s for s in _started if s.root.exists()):
            tail = "\n".join(server.log().splitlines()[-80:])
            report.sections.append((f"dovecot log ({server.root})", tail))
    return report  # type: ignore[return-value]
