"""Every template renders from its notice's dataclass, and names only that dataclass's fields."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, meta

from daemon.compose import Composer
from daemon.config import OutboxSettings
from daemon.notices import BODIES, Body, samples

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
FILES = sorted(p.name for p in TEMPLATES.glob("*.txt"))
SAMPLES = {body.template: body for body in samples()}


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
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)))
    source = (TEMPLATES / file).read_text(encoding="utf-8")
    named = meta.find_undeclared_variables(env.parse(source))
    assert named - BODIES[_name(file)].variables() == set()


@pytest.mark.parametrize("file", FILES)
def test_template_renders_from_its_dataclass(file: str) -> None:
    composer = Composer(TEMPLATES, OutboxSettings(message_id_domain="x.example"), "zh-CN")
    body: Body = SAMPLES[_name(file)]
    subject, text = composer.render(body.letter(_language(file), "x@example.com"))
    assert subject and "TS-202601-0001" in subject + text


def test_a_field_the_dataclass_lacks_is_caught(tmp_path: Path) -> None:
    template = "Subject: {{ ticket }}\n\n{{ reply_before }}\n"
    (tmp_path / "acknowledgement.en.txt").write_text(template)
    env = Environment(loader=FileSystemLoader(str(tmp_path)))
    source = (tmp_path / "acknowledgement.en.txt").read_text(encoding="utf-8")
    named = meta.find_undeclared_variables(env.parse(source))
    assert named - BODIES["acknowledgement"].variables() == {"reply_before"}


def test_context_flattens_the_ticket_and_clock_facts() -> None:
    escalation = SAMPLES["escalation"]
    assert set(escalation.context()) == escalation.variables()
