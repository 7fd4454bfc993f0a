"""Every file of the third-party mail corpus through intake.parse, checked against its manifest."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from daemon.intake import Unreadable, parse
from daemon.values import InboundMessage, MailKind

Result = InboundMessage | Unreadable

# CJK fixtures whose bytes truly cannot be decoded, with the reason. None so far: add one only
# after checking the raw bytes, never to make a decoding regression pass.
UNDECODABLE: dict[str, str] = {}


@pytest.fixture(scope="module")
def manifest(corpus_dir: Path) -> dict[str, dict[str, str]]:
    with (corpus_dir / "email-fixtures-manifest.csv").open(encoding="utf-8", newline="") as f:
        return {row["path"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def parsed(corpus_dir: Path) -> dict[str, Result]:
    """Every file under emails/, parsed once; any exception but Unreadable propagates."""
    root = corpus_dir / "emails"
    results: dict[str, Result] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            results[path.relative_to(root).as_posix()] = parse(path.read_bytes())
        except Unreadable as exc:
            results[path.relative_to(root).as_posix()] = exc
    return results


Manifest = dict[str, dict[str, str]]


def tagged(manifest: Manifest, test: Callable[[dict[str, str]], bool]) -> list[str]:
    return [path for path, row in manifest.items() if test(row)]


def test_every_corpus_file_parses_or_is_unreadable(parsed: dict[str, Result]) -> None:
    # The fixture already failed on any other exception; this checks it saw the files.
    assert len(parsed) > 600
    assert all(isinstance(r, InboundMessage | Unreadable) for r in parsed.values())


def test_chinese_japanese_korean_mail_decodes_without_replacement_characters(
    parsed: dict[str, Result], manifest: dict[str, dict[str, str]]
) -> None:
    paths = tagged(manifest, lambda row: bool(row["cjk_family"]) and row["kind"] == "mail")
    assert paths
    damaged = {}
    for path in paths:
        result = parsed[path]
        if path in UNDECODABLE:
            continue
        if isinstance(result, Unreadable):
            damaged[path] = f"unreadable: {result}"
        elif "\ufffd" in result.subject + result.text:
            damaged[path] = f"U+FFFD in subject or text; notes {result.notes}"
    assert damaged == {}


def test_fixtures_tagged_dsn_are_bounces(
    parsed: dict[str, Result], manifest: dict[str, dict[str, str]]
) -> None:
    paths = tagged(manifest, lambda row: "DSN" in row["features"].split(";"))
    assert paths
    wrong = {
        path: (r.kind.value, r.kind_reason) if isinstance(r, InboundMessage) else r.reason
        for path in paths
        if not isinstance(r := parsed[path], InboundMessage) or r.kind is not MailKind.BOUNCE
    }
    assert wrong == {}


def test_fixtures_tagged_auto_reply_are_automatic_and_the_split_is_reported(
    parsed: dict[str, Result], manifest: Manifest, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tag is a heuristic that also covers bounces and receipts: which kind is reported."""
    paths = tagged(manifest, lambda row: "auto-reply(non-DSN)" in row["features"].split(";"))
    kinds = {
        path: f"{r.kind.value}/{r.kind_reason}" if isinstance(r, InboundMessage) else "unreadable"
        for path in paths
        for r in (parsed[path],)
    }
    histogram = Counter(
        r.kind.value if isinstance(r, InboundMessage) else f"unreadable:{r.reason}"
        for r in parsed.values()
    )
    with capsys.disabled():
        print(f"\nauto-reply(non-DSN) tagged {len(paths)}: {dict(Counter(kinds.values()))}")
        print(f"corpus kinds: {dict(histogram)}")
    assert [p for p, kind in kinds.items() if kind.startswith(("personal", "unreadable"))] == []
