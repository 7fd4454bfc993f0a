"""The quote and signature stripper over reply fixtures from each mail client family.

A fixture in tests/fixtures/replies/<family>/ is the reply's text with each line marked: '+ '
for a line the writer wrote (kept), '- ' for a quoted, signature or device line (removed); an
empty line is blank and not scored. `<name>.sent.txt` beside it, when present, is the notice
the reply answers. The GBK .eml fixtures go through daemon.intake first; `<name>.kept.txt`
holds the text that should be kept.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon import intake, quoting, replycommands
from daemon.quoting import Mark

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
FAMILIES = ("qq", "netease", "outlook-zh", "outlook-en", "apple", "gmail-zh", "gmail-en", "phone")


@dataclass(frozen=True)
class Fixture:
    family: str
    name: str
    text: str
    expected: tuple[bool | None, ...]  # per line: kept, removed, or None for a blank line
    sent: str | None


def _load(path: Path) -> Fixture:
    marked = path.read_text(encoding="utf-8").splitlines()
    lines, expected = [], []
    for line in marked:
        if not line.strip():
            lines.append("")
            expected.append(None)
            continue
        assert line[:2] in ("+ ", "- ", "+", "-"), f"{path}: unmarked line {line!r}"
        lines.append(line[2:])
        expected.append(line[0] == "+")
    sent_path = path.with_name(path.stem + ".sent.txt")
    sent = sent_path.read_text(encoding="utf-8") if sent_path.exists() else None
    return Fixture(path.parent.name, path.stem, "\n".join(lines), tuple(expected), sent)


def _fixtures() -> list[Fixture]:
    paths = sorted(FIXTURES.glob("*/*.txt"))
    return [_load(p) for p in paths if not p.name.endswith((".sent.txt", ".kept.txt"))]


def _right(fixture: Fixture) -> tuple[int, int]:
    kept = set(quoting.strip_reply(fixture.text, fixture.sent).kept_lines)
    scored = [(i, want) for i, want in enumerate(fixture.expected) if want is not None]
    return sum((i in kept) == want for i, want in scored), len(scored)


def test_every_client_family_has_at_least_ten_fixtures() -> None:
    counts = defaultdict(int)
    for fixture in _fixtures():
        counts[fixture.family] += 1
    assert {f: counts[f] >= 10 for f in FAMILIES} == dict.fromkeys(FAMILIES, True)


def test_at_least_98_percent_of_fixture_lines_are_kept_or_removed_rightly() -> None:
    per_family: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for fixture in _fixtures():
        right, scored = _right(fixture)
        per_family[fixture.family][0] += right
        per_family[fixture.family][1] += scored
    for family, (right, scored) in sorted(per_family.items()):
        print(f"{family:<11} {right:>4}/{scored:<4} {right / scored:.1%}")
    right = sum(r for r, _ in per_family.values())
    scored = sum(s for _, s in per_family.values())
    print(f"{'all':<11} {right:>4}/{scored:<4} {right / scored:.1%}")
    assert right / scored >= 0.98


def test_the_kept_text_of_every_fixture_reads_as_commands_or_a_note() -> None:
    errors = {
        f"{f.family}/{f.name}": result
        for f in _fixtures()
        if isinstance(
            result := replycommands.parse(quoting.strip_reply(f.text, f.sent).kept),
            replycommands.CommandError,
        )
    }
    assert errors == {}


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("gbk/*.eml")), ids=lambda p: p.stem)
def test_a_gbk_reply_read_by_intake_keeps_only_what_its_writer_wrote(path: Path) -> None:
    msg = intake.parse(path.read_bytes())
    expected = path.with_suffix(".kept.txt").read_text(encoding="utf-8").strip()
    assert quoting.strip_reply(msg.text).kept == expected


def test_a_reply_that_is_all_quote_keeps_the_quote_as_its_body() -> None:
    text = '发自我的iPhone\n\n在 2025-01-14 09:27:35，"客诉中心" <a@desk.example> 写道：\n> 新投诉'
    stripped = quoting.strip_reply(text)
    assert stripped.kept == ""
    assert stripped.body == text


def test_the_notice_we_sent_is_removed_even_without_a_quote_header() -> None:
    sent = "王经理您好：\n有一张新的投诉分派给您处理。\n工单号：TS-202501-0003"
    text = "签收\n\n王经理您好：\n有一张新的投诉分派给您处理。\n工单号：TS-202501-0003"
    assert quoting.strip_reply(text, sent).kept == "签收"


def test_a_single_line_that_also_appears_in_the_notice_is_kept() -> None:
    sent = "请回复：\n签收\n已联系"
    text = "签收\n\n发自我的iPhone"
    assert quoting.strip_reply(text, sent).kept == "签收"


def test_commands_the_notice_lists_are_kept_when_the_writer_uses_them() -> None:
    notice = "王经理您好：\n有一张新的投诉分派给您处理。\n工单号：TS-202501-0003"
    sent = f"可用的指令：\n签收\n已联系\n升级\n\n{notice}"
    text = f"签收\n已联系\n\n{notice}"
    assert quoting.strip_reply(text, sent).kept == "签收\n已联系"


def test_a_bottom_posted_answer_below_a_quote_is_kept() -> None:
    text = "On 14 Jan 2025, at 09:27, Desk <a@desk.example> wrote:\n\n> New ticket\n\n#ack"
    assert quoting.strip_reply(text).kept == "#ack"


def test_a_gmail_attribution_wrapped_over_two_lines_is_a_quote_header() -> None:
    text = "#ack\n\nOn Tue, Jan 14, 2025 at 9:27 AM Desk <\na@desk.example> wrote:\nNew ticket"
    assert quoting.strip_reply(text).kept == "#ack"


def test_an_outlook_block_with_full_width_colons_starts_the_quote() -> None:
    text = "升级\n发件人： 客诉中心\n发送时间： 2025年1月17日 18:05\n主题： 时限已过\n工单已超时"
    assert quoting.strip_reply(text).kept == "升级"


def test_a_from_line_alone_in_the_answer_is_not_a_quote_header() -> None:
    text = "#note\nFrom: what she told me, the noise is gone.\nWill check next week."
    assert quoting.strip_reply(text).kept == text


def test_a_chinese_sentence_ending_in_xiedao_without_a_time_is_kept() -> None:
    text = "备注 客户 2025年1月13日来信写道：\n“再不解决就投诉到厂家”"
    assert quoting.strip_reply(text).kept == text


def test_text_after_a_signature_separator_is_elided() -> None:
    stripped = quoting.strip_reply("已联系\n-- \n王伟\n服务经理")
    assert (stripped.kept, stripped.elided) == ("已联系", "-- \n王伟\n服务经理")


def test_marks_tell_each_kind_of_removed_line_apart() -> None:
    text = "签收\n> 旧文\n发自我的华为手机\n——\n王伟\n-----Original Message-----"
    assert quoting.marks(text) == [
        Mark.TEXT,
        Mark.QUOTED,
        Mark.DEVICE,
        Mark.SIGNATURE,
        Mark.TEXT,
        Mark.HEADER,
    ]
