"""Every template renders from its notice's dataclass, and names only that dataclass's fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2 import meta

from daemon.compose import Composer
from daemon.config import OutboxSettings
from daemon.notices import BODIES, Body, Cue, cues, samples

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
FILES = sorted(p.name for p in TEMPLATES.glob("*.txt"))
SAMPLES = {body.template: body for body in samples()}
STAFF = sorted(set(SAMPLES) - {"acknowledgement"})


def composer() -> Composer:
    return Composer(TEMPLATES, OutboxSettings(message_id_domain="x.example"), "zh-CN")


def _undeclared(source: str, language: str) -> set[str]:
    """The variables a template names, parsed as the composer parses it (with its filters)."""
    return set(meta.find_undeclared_variables(composer().environment(language).parse(source)))


def _name(file: str) -> str:
    return file.split(".", 1)[0]


def _language(file: str) -> str:
    return file.split(".")[1]


def test_every_template_has_a_notice_dataclass() -> None:
    assert {_name(f) for f in FILES} == set(BODIES)


def test_every_notice_dataclass_has_a_template() -> None:
    assert set(BODIES) <= {_name(f) for f in FILES}


@pytest.mark.parametrize("file", FILES)
def test_template_names_only_fields_of_its_dataclass(file: str) -> None:
    source = (TEMPLATES / file).read_text(encoding="utf-8")
    assert _undeclared(source, _language(file)) - BODIES[_name(file)].variables() == set()


@pytest.mark.parametrize("file", FILES)
def test_template_renders_from_its_dataclass(file: str) -> None:
    body: Body = SAMPLES[_name(file)]
    subject, text = composer().render(body.letter(_language(file), "x@example.com"))
    assert subject and "TS-202601-0001" in subject + text


def test_a_field_the_dataclass_lacks_is_caught() -> None:
    template = "Subject: {{ ticket }}\n\n{{ reply_before | label('clock') }}\n"
    named = _undeclared(template, "en")
    assert named - BODIES["acknowledgement"].variables() == {"reply_before"}


@pytest.mark.parametrize("language", ["zh-CN", "zh-TW", "en"])
@pytest.mark.parametrize("template", STAFF)
def test_every_staff_notice_has_a_template_in_every_staff_language(
    template: str, language: str
) -> None:
    assert (TEMPLATES / f"{template}.{language}.txt").is_file()


@pytest.mark.parametrize("file", [f for f in FILES if not f.startswith("followup.")])
def test_a_rendered_sample_shows_no_key_and_every_time_with_its_zone(file: str) -> None:
    body: Body = SAMPLES[_name(file)]
    subject, text = composer().render(body.letter(_language(file), "x@example.com"))
    rendered = subject + "\n" + text
    keys = ["after_sales", "first_contact", "2026-01-05"]
    if _language(file) != "en":  # English words may coincide with keys ("general")
        keys += ["service", "general", "media", "contact"]
    assert [
        k for k in keys if k in rendered.replace("tickets act TS-202601-0001 contact", "")
    ] == []
    zone = {"zh-CN": "（北京时间）", "zh-TW": "（北京時間）", "en": " (Beijing time, UTC+08:00)"}
    times = [m.end() for m in re.finditer(r"(?<![+\-\d])\d\d:\d\d", rendered)]
    assert times and all(rendered[end:].startswith(zone[_language(file)]) for end in times)


def test_evidence_becomes_one_cue_per_target_with_its_phrases_once() -> None:
    found = cues(
        [
            ("category:service", "态度"),
            ("major:media", "曝光"),
            ("category:service", "不理"),
            ("category:service", "态度"),
        ]
    )
    assert found == (
        Cue("category", "service", ("态度", "不理")),
        Cue("major", "media", ("曝光",)),
    )


def test_a_cue_from_the_customers_history_carries_no_english_sentence() -> None:
    found = cues([("major:repeat", "3 earlier complaint(s) within 30 days")])
    assert found == (Cue("major", "repeat", ()),)
