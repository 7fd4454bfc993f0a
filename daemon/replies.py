"""Staff replies to our notices as commands: who sent it (the signed token, the sender's domain),
what it says (quotes stripped, commands read), whether they may, and applying it all or nothing
through the same code path as `complaintd tickets act`.

judge() runs while the message is decided and says what becomes of it; apply() runs after the
message is stored, in its savepoint, so the audit trail names the reply that caused each change.
"""

from __future__ import annotations

import email
import email.policy
import functools
import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from daemon import (
    acting,
    authres,
    compose,
    customer_voice,
    events,
    ladder,
    notices,
    notify,
    permissions,
    quoting,
    replytokens,
    sweeps,
)
from daemon import replycommands as rc
from daemon.deps import Deps
from daemon.lifecycle import Event, InvalidTransition
from daemon.opening import Letter
from daemon.org import OrgSettings, Person
from daemon.store import db, records
from daemon.store.models import OutboxMail, Ticket, table
from daemon.values import InboundMessage, RawMail

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Note:
    """No command: the reply is an internal note, stored as every follow-up is."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A reply that failed a check: held for review, the sender told only that it failed."""

    reason: str  # "reply-no-token", "reply-expired", "reply-unauthenticated", ...
    detail: str
    letters: tuple[Letter, ...]  # at most one "could not be applied" a day per address


@dataclass(frozen=True, slots=True)
class Explained:
    """An authenticated staff member asked for something they cannot: stored as a note, the
    audit says why, and they get one mail saying why with the commands there are."""

    reason: str  # "bad-command" | "not-allowed"
    detail: str
    letters: tuple[Letter, ...]


@dataclass(frozen=True, slots=True)
class Accepted:
    """A reply whose commands are to be applied after it is stored."""

    person: Person
    commands: tuple[rc.Command, ...]


Judgement = Note | Refused | Explained | Accepted


def judge(
    session: Session,
    ticket: Ticket,
    msg: InboundMessage,
    raw: RawMail,
    tokens: tuple[str, ...],
    deps: Deps,
    now: datetime,
    mail: bool,
) -> Judgement:
    """What a staff member's reply on `ticket` is: a note, commands to apply, or refused.
    `tokens` are the reply tokens it carries (tokens_of)."""
    person = notify.staff_member(msg.sender, deps.settings)
    if person is None:
        return Note()
    parsed = rc.parse(quoting.strip_reply(msg.text, sent=_sent_text(session, msg)).kept)
    if isinstance(parsed, rc.Commands) and parsed.is_note:
        return Note()
    secrets = deps.composer.reply_secrets
    if not secrets:
        # Without keys nobody can be told from a forger: commands are kept as a note.
        log.info(
            "%s reply from %s read as a note: [replies] has no keys", ticket.number, msg.sender
        )
        return Note()
    failure = authenticate(ticket, msg, raw, tokens, secrets, deps, now)
    if failure is not None:
        reason, detail = failure
        letters = (_unapplied(session, ticket, msg.sender, deps, now),) if mail else ()
        return Refused(reason, detail, tuple(x for x in letters if x is not None))
    language = person.language or deps.settings.service.default_language
    if isinstance(parsed, rc.CommandError):
        why = parsed.message(language)
        return Explained("bad-command", parsed.text, _refusal(ticket, person, why, deps, now))
    allowed = permissions.table(
        deps.settings.replies.allowed,
        (deps.triage.org.care_manager_role, permissions.CALLBACK_ROLE),
    )
    barred = permissions.refused((c.kind for c in parsed.commands), person.role, allowed)
    if barred:
        why = _not_allowed(barred, language)
        detail = f"{person.role} may not {', '.join(barred)}"
        return Explained("not-allowed", detail, _refusal(ticket, person, why, deps, now))
    return Accepted(person, parsed.commands)


def authenticate(
    ticket: Ticket,
    msg: InboundMessage,
    raw: RawMail,
    found: tuple[str, ...],
    secrets: dict[str, bytes],
    deps: Deps,
    now: datetime,
) -> tuple[str, str] | None:
    """None when one of the tokens `found` in the reply is for this ticket and was issued to
    its sender (and, when required, its domain is authenticated); else the reason and the
    detail for the review."""
    if not found:
        return "reply-no-token", f"{msg.sender}: no reply token in the recipient or thread"
    first: replytokens.Rejected | None = None
    for token in found:
        claim = replytokens.verify(token, secrets, now, msg.sender, ticket.number)
        if isinstance(claim, replytokens.Claim):
            break
        first = first or claim
    else:
        assert first is not None
        named = f" (token for {first.ticket}, key {first.key_id})" if first.ticket else ""
        return f"reply-{first.reason.value}", f"{msg.sender}{named}"
    r = deps.settings
    if r.replies.require_authentication:
        domain = msg.sender.rpartition("@")[2]
        headers = authres.header_values(raw.data)
        if not sender_authenticated(headers, r.tickets.trusted_authserv_ids, domain):
            return "reply-unauthenticated", f"no DMARC or DKIM pass for {domain} from our servers"
    return None


def tokens_of(msg: InboundMessage) -> tuple[str, ...]:
    """Reply tokens the message carries: in a plus-addressed recipient first (as delivered,
    then To and Cc), then in the Message-IDs it answers, nearest first."""
    found: list[str] = []
    for address in (*msg.delivered_to, *msg.recipients):
        token = replytokens.in_address(address)
        if token and token not in found:
            found.append(token)
    for token in replytokens.in_thread(msg.in_reply_to, msg.references):
        if token not in found:
            found.append(token)
    return tuple(found)


def sender_authenticated(headers: tuple[str, ...], trusted: tuple[str, ...], domain: str) -> bool:
    """Whether one of our servers says DMARC or DKIM passed for the sender's domain; no
    verdict at all is no."""
    ours = {t.lower() for t in trusted}
    domain = domain.lower()
    for value in headers:
        parsed = authres.parse(value)
        if parsed is None or parsed.authserv_id not in ours:
            continue
        for result in parsed.results:
            if result.result != "pass":
                continue
            if result.method == "dmarc":
                checked = result.properties.get("header.from", domain)
            elif result.method == "dkim":
                checked = result.properties.get("header.d", "") or result.properties.get(
                    "header.i", ""
                )
            else:
                continue
            if checked.rpartition("@")[2].lower() == domain:
                return True
    return False


_outbox = table(OutboxMail)


@functools.cache
def _sent(count: int) -> Select[str, bytes]:
    # Columns of the table, not of the mapped class: a plain statement, without the ORM's
    # work per execution (the outbox is only ever written by statements).
    return select(_outbox.c.message_id, _outbox.c.raw).where(
        records.ids_in(_outbox.c.message_id, count)
    )


def _sent_text(session: Session, msg: InboundMessage) -> str | None:
    """The text of our notice the reply answers, as the outbox holds it (to strip its quote)."""
    ids = [*msg.in_reply_to, *reversed(msg.references)]
    if not ids:
        return None
    count, params = records.ids_params(ids)
    rows = session.connection().execute(_sent(count), params).all()
    by_id = {row.message_id: row.raw for row in rows}
    raw = next((by_id[i] for i in ids if i in by_id), None)
    return None if raw is None else _plain_text(raw)


def _plain_text(raw: bytes) -> str | None:
    """The text/plain part of a mail we composed: read back as compose() wrote it, else (a
    mail an earlier version wrote) with the stdlib's legacy parser, enough for our own mail
    and several times faster than the modern one."""
    text = compose.text_of(raw)
    if text is not None:
        return text
    for part in email.message_from_bytes(raw).walk():
        if part.get_content_type() == "text/plain":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                text = data.decode(part.get_content_charset() or "utf-8", "replace")
                return text.replace("\r\n", "\n")
    return None


def _unapplied(
    session: Session, ticket: Ticket, sender: str, deps: Deps, now: datetime
) -> Letter | None:
    """The one "could not be applied" mail of the day for this address; None once sent."""
    local = now.astimezone(deps.settings.zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    sent = session.scalar(
        select(func.count())
        .select_from(OutboxMail)
        .where(
            OutboxMail.kind == "unapplied",
            OutboxMail.recipient == sender,
            OutboxMail.created_at >= day_start,
        )
    )
    if sent:
        return None
    body = notices.Unapplied(
        ticket.number, notices.local_time(now, deps.settings.zone), deps.settings.outbox.from_name
    )
    return Letter("unapplied", body.letter(deps.settings.service.default_language, sender))


def _refusal(
    ticket: Ticket, person: Person, why: str, deps: Deps, now: datetime
) -> tuple[Letter, ...]:
    body = notices.Refusal(
        ticket.number,
        ticket.subject,
        why,
        notices.local_time(now, deps.settings.zone),
        deps.settings.outbox.from_name,
    )
    language = person.language or deps.settings.service.default_language
    return (Letter("refusal", body.letter(language, person.email)),)


def _not_allowed(kinds: tuple[rc.Kind, ...], language: str) -> str:
    if language.lower().startswith("en"):
        words = ", ".join(f"#{rc.BY_KIND[k].english[0]}" for k in kinds)
        head = f"Your role may not give {words}; customer care does."
        tail = "Valid commands (one per line, at the top of the reply):"
        return f"{head}\n{tail}\n{rc.help_text('en')}"
    words = "、".join(f"“{rc.BY_KIND[k].chinese[0]}”" for k in kinds)
    head = f"您的岗位不能使用{words}，请由客户关爱部门处理。"
    return f"{head}\n可用的指令（每行一条，写在回复最上方）：\n{rc.help_text('zh')}"


# -- applying ------------------------------------------------------------------------------------


class _Unusable(Exception):
    """A command that cannot be carried out as written (an unknown person, nothing to escalate);
    the message is the reader's explanation."""


def apply(
    session: Session,
    ticket: Ticket,
    accepted: Accepted,
    row: int,
    msg: InboundMessage,
    deps: Deps,
    now: datetime,
    mail: bool,
) -> bool:
    """Apply every command of a stored reply, all or nothing; confirm to the actor, or tell
    them why nothing was done. True when applied."""
    person = accepted.person
    language = person.language or deps.settings.service.default_language
    message_id = msg.message_id or msg.sha256[:16]
    done: list[notices.Done] = []
    undo: list[notices.Undo] = []
    joined = events.Entry(msg.sender, events.FollowUp("staff"), row)
    try:
        with (
            db.savepoint(session),
            # Once, however many commands follow; the savepoint holds their audit entries
            # for one statement at its end (deferred.batch).
            acting.holding(session, ticket.id) as held,
        ):
            # The stored reply's stamp and audit entry, written with what its commands change.
            held.change(updated_at=now)
            records.add_events(session, ticket.id, now, [joined])
            for command in accepted.commands:
                _apply_one(session, held, command, person, msg, deps, now, mail, done, undo)
            kinds = tuple(c.kind.value for c in accepted.commands)
            applied = events.ReplyApplied(message_id, kinds)
            records.add_event(session, ticket.id, now, person.key, applied, row)
    except (InvalidTransition, acting.ActError, _Unusable) as exc:
        # The stamp and the entry went back with the commands; the reply is stored.
        ticket.updated_at = now
        why = _why(exc, language)
        refused = events.ReplyRefused(message_id, msg.sender, "cannot-apply", str(exc))
        records.add_events(
            session, ticket.id, now, [joined, events.Entry(person.key, refused, row)]
        )
        log.info("%s reply %s from %s not applied: %s", ticket.number, message_id, person.key, exc)
        if mail:
            for letter in _refusal(ticket, person, why, deps, now):
                _post(session, letter, ticket, deps, now)
        return False
    log.info(
        "%s reply %s from %s applied: %s",
        ticket.number,
        message_id,
        person.key,
        ", ".join(c.kind for c in accepted.commands),
    )
    if mail:
        body = notices.Confirmation(
            ticket.number,
            ticket.subject,
            person.name,
            tuple(done),
            ticket.status,
            notices.deadlines(held.running(), deps.settings.zone),
            tuple(undo),
            deps.settings.outbox.from_name,
        )
        _post(
            session, Letter("confirmation", body.letter(language, person.email)), ticket, deps, now
        )
    return True


def _why(exc: Exception, language: str) -> str:
    english = language.lower().startswith("en")
    if isinstance(exc, InvalidTransition):
        head = (
            f"The ticket's state does not allow this: {exc}"
            if english
            else f"投诉当前的状态不允许这样操作（{exc}）。"
        )
    else:
        head = str(exc)
    tail = "Valid commands:" if english else "可用的指令："
    return f"{head}\n{tail}\n{rc.help_text('en' if english else 'zh')}"


# What undoes each command, when a reply can: (command, argument) for the confirmation.
_UNDO: dict[rc.Kind, rc.Kind] = {
    rc.Kind.PAUSE: rc.Kind.RESUME,
    rc.Kind.RESOLVED: rc.Kind.REOPEN,
    rc.Kind.CLOSE: rc.Kind.REOPEN,
    rc.Kind.REOPEN: rc.Kind.CLOSE,
}


def _apply_one(
    session: Session,
    held: acting.Held,
    command: rc.Command,
    person: Person,
    msg: InboundMessage,
    deps: Deps,
    now: datetime,
    mail: bool,
    done: list[notices.Done],
    undo: list[notices.Undo],
) -> None:
    ticket, kind, argument = held.ticket, command.kind, command.argument
    cause = argument or f"reply {msg.message_id or ''}".strip()
    if kind is rc.Kind.NOTE:
        records.add_event(session, ticket.id, now, person.key, events.Note(argument))
        done.append(notices.Done(kind.value, "", "", argument))
        return
    if kind is rc.Kind.REPLY:
        if mail:  # a backfill records the command, and mails nobody
            _answer_customer(session, ticket, argument, deps, now, person.key)
        done.append(notices.Done(kind.value, "", "", argument))
        return
    if kind is rc.Kind.ESCALATE:
        told = escalate_one(session, held, deps, now, mail)
        done.append(notices.Done(kind.value, "", "", "、".join(told)))
        return
    if kind is rc.Kind.ASSIGN:
        target = find_person(deps.triage.org, argument)
        if target is None:
            raise _Unusable(f"“{argument}”: nobody in the org chart has that name, alias or key")
        before_handler = ticket.handler
        result = acting.act_in(
            session, deps, held, Event.ASSIGN, person.key, cause, now, target.key
        )
        done.append(notices.Done(kind.value, result.before, result.after, target.name))
        previous = next((p for p in deps.triage.org.people if p.key == before_handler), None)
        if previous is not None:
            undo.append(notices.Undo(kind.value, previous.name))
        return
    if kind is rc.Kind.CALLBACK:
        assert command.verdict is not None  # the grammar reads one or refuses the line
        # Customer care records what the customer said on the phone: the same path as the
        # customer's own answer to the satisfaction question.
        said = rc.Satisfaction(command.verdict, None, argument)
        result = customer_voice.verdict(session, held, said, person.key, msg.text, deps, now, mail)
        done.append(notices.Done(kind.value, result.before, result.after, argument))
        return
    event = command.event
    assert event is not None  # every other verb moves the ticket
    # A resolution tells the customer its result and asks whether they are satisfied.
    result = acting.act_in(
        session,
        deps,
        held,
        event,
        person.key,
        cause,
        now,
        result=argument if kind is rc.Kind.RESOLVED else "",
        mail=mail,
    )
    done.append(notices.Done(kind.value, result.before, result.after, argument))
    back = _UNDO.get(kind)
    if back is not None:
        undo.append(notices.Undo(back.value, "<原因>" if back is rc.Kind.PAUSE else ""))


def find_person(org: OrgSettings, written: str) -> Person | None:
    """The one person a command names by key, name, alias or address; None when nobody or
    several fit."""
    wanted = _fold(written)
    fits = [
        p
        for p in org.people
        if wanted in {_fold(t) for t in (p.key, p.name, p.email, *p.aliases) if t}
    ]
    return fits[0] if len(fits) == 1 else None


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def escalate_one(
    session: Session, held: acting.Held, deps: Deps, now: datetime, mail: bool = True
) -> tuple[str, ...]:
    """Raise the ticket one ladder step on its soonest running clock, as a sweep would on a
    breach: the next step's person is told (copying the neutral third party); a backfill
    (`mail` False) records the step and tells nobody. The names told."""
    ticket = held.ticket
    due = [(s.due_at, s) for s in held.clocks.values() if s.stopped_at is None and s.due_at]
    if not due:
        raise _Unusable(f"{ticket.number} has no running clock to escalate")
    _, state = min(due, key=lambda pair: pair[0])  # the first of equals: the oldest clock
    facts = notify.ticket_facts(session, ticket, deps.settings)
    job = sweeps._Job(
        session,
        deps,
        now,
        ticket,
        state,
        facts,
        sweeps._clock_facts(state, ticket, deps),
        mail=mail,
    )
    rungs = ladder.escalation_ladder(
        ticket.handler,
        deps.triage.org,
        now,
        tuple(ticket.excluded),
        steps=max(len(state.plan.ladder), len(ladder.POSITIONS)),
        told=sweeps._escalated_to(job),
    )
    rung = next((r for r in rungs if r.person and not r.unfilled), None)
    if rung is None:
        raise _Unusable(f"{ticket.number}: everyone up the ladder has been told already")
    action = sweeps._escalate(job, rung)
    people = {p.email: p.name for p in deps.triage.org.people}
    return tuple(people.get(a, a) for a in action.to)


def _answer_customer(
    session: Session, ticket: Ticket, text: str, deps: Deps, now: datetime, by: str
) -> None:
    """#reply / 回复客户: the answer goes to the customer from the desk, in their thread."""
    told = customer_voice.answer_customer(session, ticket, text, deps, now, by)
    if told.status == "not-sent":
        raise _Unusable(f"the answer cannot reach the customer: {told.why}")


def _post(session: Session, letter: Letter, ticket: Ticket, deps: Deps, now: datetime) -> None:
    notify.enqueue(
        session, letter.notice, ticket.id, letter.kind, deps.composer, deps.settings, now
    )
