"""The customer's answer to the satisfaction question, and what it does to their ticket.

Pure: the shell (daemon.customer_voice) hands in the ticket's state and the reply's text.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon import quoting
from daemon.lifecycle import Event, Status
from daemon.replycommands import Satisfaction, Verdict, parse_satisfaction

# Seed 000, article 7.3: the manufacturer counts a score of 6 or less as a complaint.
UNSATISFIED_AT_OR_BELOW = 6

# The customer's answer is read in simplified characters; these are the traditional ones an
# answer to the satisfaction question uses (滿意, 不滿意, 評分 ...).
_SIMPLIFIED = str.maketrans("滿評較沒決數為與還", "满评较没决数为与还")


@dataclass(frozen=True, slots=True)
class Reading:
    """A reply read as the answer to the satisfaction question, and the event it applies."""

    answer: Satisfaction
    event: Event  # CALLBACK (satisfied: customer care may close) | REOPEN (still unhappy)

    @property
    def satisfied(self) -> bool:
        return self.answer.verdict is Verdict.SATISFIED

    @property
    def cause(self) -> str:
        """The transition's cause in the audit trail."""
        score = f", score {self.answer.score}" if self.answer.score is not None else ""
        return f"customer {self.answer.verdict} ({self.answer.said}{score})"


def awaiting(status: Status) -> bool:
    """Is the ticket waiting for the customer's verdict? Only between the result and the
    callback: once per resolution, so a second answer is an ordinary follow-up."""
    return status is Status.RESOLVED


def read(
    status: Status, text: str, unsatisfied_at_or_below: int = UNSATISFIED_AT_OR_BELOW
) -> Reading | None:
    """The customer's reply as their verdict on the result, or None when the ticket is not
    awaiting one or the reply gives none (it is then an ordinary follow-up)."""
    if not awaiting(status):
        return None
    # Only what they wrote: our question, quoted below it, names both verdicts.
    written = quoting.strip_reply(text).kept.translate(_SIMPLIFIED)
    answer = parse_satisfaction(written, unsatisfied_at_or_below)
    return None if answer is None else reading_of(answer)


def reading_of(answer: Satisfaction) -> Reading:
    """What a verdict does, however it reached us (the customer's reply, or customer care
    recording the callback): satisfied lets customer care close, unsatisfied reopens."""
    event = Event.CALLBACK if answer.verdict is Verdict.SATISFIED else Event.REOPEN
    return Reading(answer, event)
