"""Manufacturer cases and the feeds they come from: one row per (oem, case_id), linked to its
one ticket, and one row of counts per feed for `complaintd feeds status`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from daemon.store.models import Base


class ManufacturerCase(Base):
    """A case a manufacturer dispatched to us, as it last described it."""

    __tablename__ = "manufacturer_cases"
    __table_args__ = (UniqueConstraint("oem", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    oem: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[str] = mapped_column(String(100))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    feed: Mapped[str] = mapped_column(String(100))  # the feed that last described it
    level: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(60), default="")
    dispatched_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    survey_score: Mapped[float | None] = mapped_column(Float)
    zero_complaint: Mapped[bool] = mapped_column(Boolean, default=False)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    customer_phone: Mapped[str] = mapped_column(String(60), default="")
    customer_email: Mapped[str] = mapped_column(String(320), default="")
    vin: Mapped[str] = mapped_column(String(40), default="")
    plate: Mapped[str] = mapped_column(String(40), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    resurvey_score: Mapped[float | None] = mapped_column(Float)
    # 零抱怨: "success" or "failure" once the re-survey settled it, with the failure's fine.
    zero_complaint_result: Mapped[str | None] = mapped_column(String(20))
    zero_complaint_penalty: Mapped[float | None] = mapped_column(Float)
    resurveyed_at: Mapped[datetime | None]
    # FeedCase.digest() of the last record: the same record again changes nothing.
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FeedState(Base):
    """What one feed has done: counts since it was first used, its last import and error."""

    __tablename__ = "feed_states"

    feed: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_import_at: Mapped[datetime | None]
    last_source: Mapped[str] = mapped_column(Text, default="")  # the file (or poll) imported
    imported: Mapped[int] = mapped_column(Integer, default=0)  # cases that opened a ticket
    updated: Mapped[int] = mapped_column(Integer, default=0)  # later records that changed one
    quarantined: Mapped[int] = mapped_column(Integer, default=0)  # records refused
    newest_dispatched_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None]
    # The first error since the last success: `complaintd status` alerts when it is old.
    failing_since: Mapped[datetime | None]
    # An http feed's cursor (or since-timestamp) for its next poll, saved after each commit.
    cursor: Mapped[str] = mapped_column(Text, default="")


def case_of_ticket(session: Session, ticket_id: int) -> ManufacturerCase | None:
    return session.scalar(select(ManufacturerCase).where(ManufacturerCase.ticket_id == ticket_id))


def case_view(case: ManufacturerCase | None, show: Any) -> dict[str, Any] | None:
    """The case as `tickets show --json` carries it; None for other tickets."""
    if case is None:
        return None
    return {
        "oem": case.oem,
        "case_id": case.case_id,
        "level": case.level or None,
        "dispatched_at": show(case.dispatched_at),
        "survey_score": case.survey_score,
        "status": case.status or None,
        "zero_complaint": case.zero_complaint,
        "deadline": show(case.deadline),
        # 零抱怨 state: None (not one), "pending" (awaiting the re-survey), "success", "failure".
        "zero_complaint_state": _zero_state(case),
        "resurvey_score": case.resurvey_score,
        "penalty": case.zero_complaint_penalty,
    }


def _zero_state(case: ManufacturerCase) -> str | None:
    if not case.zero_complaint:
        return None
    return case.zero_complaint_result or "pending"
