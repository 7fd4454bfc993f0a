"""[[feeds]] in config.toml: where manufacturer cases come from and how their fields are named."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from daemon.feeds.records import FIELDS, REQUIRED
from daemon.values import ConfigPath


class FeedSettings(BaseModel):
    """One manufacturer feed. Only `folder` runs today; mail, http and webhook feeds are further
    sources of the same records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    oem: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")  # the key cases are known by
    kind: Literal["folder"] = "folder"
    # Our field name -> the source's column (or key) name, e.g. case_id = "投诉单号".
    fields: dict[str, str]
    # Where exports are dropped; done/ and failed/ inside it unless given.
    path: ConfigPath | None = None
    done_folder: ConfigPath | None = None
    failed_folder: ConfigPath | None = None
    poll_seconds: int = Field(default=60, ge=1)
    # Mail the case's customer our acknowledgement, when the case carries their address.
    acknowledge: bool = False
    # The manufacturer's levels; a case with another level is quarantined. Empty: any level.
    levels: tuple[str, ...] = ()
    # A survey score at or below this makes a zero-complaint case (零抱怨).
    zero_complaint_max_score: float = 6.0
    # A column the mapping does not name: "ignore" it, or "quarantine" the record (strict
    # exports whose every column is known).
    extra_columns: Literal["ignore", "quarantine"] = "ignore"

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; known: {', '.join(FIELDS)}")
        missing = [f for f in REQUIRED if f not in value]
        if missing:
            raise ValueError(f"must map {', '.join(missing)} to the source's column names")
        empty = [f for f, column in value.items() if not column.strip()]
        if empty:
            raise ValueError(f"empty column name for {', '.join(empty)}")
        return value

    @model_validator(mode="after")
    def _folder_has_path(self) -> FeedSettings:
        if self.kind == "folder" and self.path is None:
            raise ValueError("a folder feed needs `path`, the folder exports are dropped into")
        return self

    @property
    def folder(self) -> Path:
        assert self.path is not None  # checked for folder feeds
        return self.path

    @property
    def worker(self) -> str:
        """The name its worker's health is reported under (not a mailbox name)."""
        return f"[feed {self.name}]"

    @property
    def done(self) -> Path:
        return self.done_folder or self.folder / "done"

    @property
    def failed(self) -> Path:
        return self.failed_folder or self.folder / "failed"


def check_feeds(feeds: tuple[FeedSettings, ...]) -> list[str]:
    """Problems across [[feeds]]: each name once, and no two folder feeds on one folder."""
    problems = []
    names = [f.name for f in feeds]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"[[feeds]] name: {name!r} is used twice; each feed needs its own name")
    folders = [f.folder for f in feeds if f.kind == "folder"]
    for folder in sorted({p for p in folders if folders.count(p) > 1}):
        problems.append(f"[[feeds]] path: {folder} is the folder of two feeds")
    return problems
