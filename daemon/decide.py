"""What becomes of a received message nobody has filed yet: ignored, held for review, joined
to its ticket, or opened as a new complaint. Reads what the database knows about the sender
and the thread, and returns the decision for daemon.store.filing to write."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from daemon import (
    acting,
    authres,
    confidential,
    customer_voice,
    intake,
    notices,
    notify,
    opening,
    quoting,
    replies,
    staffintake,
)
from daemon.deps import Deps
from daemon.matter import matter_key
from daemon.notices import FollowUp, TicketFacts, local_time
from daemon.numbering import numbers_in, period_of
from daemon.opening import Letter
from daemon.store import clockrows, filing, records
from daemon.store.models import Customer, Ticket
from daemon.values import InboundMessage, MailKind, RawMail


def decide(
    session: Session, msg: InboundMessage, raw: RawMail, deps: Deps, now: datetime, mail: bool
) -> filing.Decision:
    """What becomes of a message nobody has filed yet: which ticket, if any, it opens or joins."""
    if msg.kind is not MailKind.PERSONAL:
        return filing.Ignore(msg.kind.value)
    if msg.sender == deps.settings.outbox.from_address.lower():
        return filing.Ignore("own-mail")
    # A reply token names its ticket too, for clients that drop our subject tag; it is
    # verified later, like everything else a reply says.
    tokens = replies.tokens_of(msg)
    numbers = [
        *numbers_in(msg.subject, deps.settings.tickets.prefix),
        *(token.partition(".")[0].upper() for token in tokens),
    ]
    ticket = records.thread_ticket(session, numbers, (*msg.in_reply_to, *msg.references))
    forged = _forged(msg, raw, deps)
    if forged is not None:
        return filing.Hold(ticket, "dmarc-fail", forged)
    if ticket is not None:
        # Naming a ticket is not enough to join it: its numbers are sequential and the
        # Message-IDs it quotes travel in every reply. Only its parties join.
        role, why = party(session, ticket, msg.sender, deps)
        if role is None:
            return filing.Hold(ticket, why, _hold_detail(why, msg, ticket))
        if role == "staff":
            return staff_reply(session, ticket, msg, raw, tokens, deps, now, mail)
        return join(session, ticket, msg, role, deps, now, mail)
    if deps.triage.staff_key(msg.sender) is not None:
        logged = staffintake.parse(msg.text)
        if logged is not None:
            return log_complaint(session, msg, raw, logged, deps, now, mail)
        # Staff write to the intake address about tickets, or their robots answer our
        # notices: neither is a customer's complaint.
        return filing.Ignore("staff-mail")
    window = deps.triage.repeat_body_window
    since = now - timedelta(days=deps.triage.repeat_window_days)
    history = records.sender_history(
        session, msg.sender, msg.subject, msg.text, now - window if window else None, since
    )
    if history.repeats:
        # The same mail again from the same sender: a robot answering ours with a fixed
        # subject and text, or a complaint sent twice. Recorded; nothing opened or sent.
        return filing.Ignore("repeat-body")
    return open_ticket(session, msg, deps, now, mail, earlier=history.earlier)


def _forged(msg: InboundMessage, raw: RawMail, deps: Deps) -> str | None:
    """Why our own receiving servers say the From is forged (DMARC failed); None otherwise."""
    trusted = deps.settings.tickets.trusted_authserv_ids
    if not trusted:
        return None
    domain = msg.sender.rpartition("@")[2]
    return authres.dmarc_failure(authres.header_values(raw.data), trusted, domain)


def party(session: Session, ticket: Ticket, sender: str, deps: Deps) -> tuple[str | None, str]:
    """What the sender is to the ticket ("staff", "customer"), or None and why not."""
    person = deps.triage.staff_key(sender)
    if person is not None:
        # The employee a complaint is about never handles it, nor writes on it.
        return (None, "excluded-staff") if person in ticket.excluded else ("staff", "")
    if records.is_customer_address(session, ticket, sender):
        return "customer", ""
    return None, "not-a-party"


def staff_reply(
    session: Session,
    ticket: Ticket,
    msg: InboundMessage,
    raw: RawMail,
    tokens: tuple[str, ...],
    deps: Deps,
    now: datetime,
    mail: bool,
) -> filing.Join | filing.Hold:
    """A staff member's mail on a ticket: a note, commands to apply, or held when it fails a
    check (daemon.replies)."""
    judged = replies.judge(session, ticket, msg, raw, tokens, deps, now, mail)
    if isinstance(judged, replies.Refused):
        return filing.Hold(ticket, judged.reason, judged.detail, judged.letters)
    joined = join(session, ticket, msg, "staff", deps, now, mail)
    if isinstance(judged, replies.Explained):
        letters = (*joined.letters, *judged.letters)
        return replace(joined, letters=letters, refused=(judged.reason, judged.detail))
    if isinstance(judged, replies.Accepted):
        return replace(joined, actor=judged.person, commands=judged.commands)
    return joined


def log_complaint(
    session: Session,
    msg: InboundMessage,
    raw: RawMail,
    logged: staffintake.Logged | staffintake.LogError,
    deps: Deps,
    now: datetime,
    mail: bool,
) -> filing.Open | filing.Hold:
    """A phone, walk-in or manufacturer complaint a staff member logged by mail: opened on
    the customer's behalf with that channel, when the sender is who they say."""
    settings = deps.settings
    if settings.replies.require_authentication:
        domain = msg.sender.rpartition("@")[2]
        headers = authres.header_values(raw.data)
        if not replies.sender_authenticated(headers, settings.tickets.trusted_authserv_ids, domain):
            why = f"no DMARC or DKIM pass for {domain} from our servers"
            return filing.Hold(None, "log-unauthenticated", why)
    if isinstance(logged, staffintake.LogError):
        return filing.Hold(None, "log-unreadable", f"{logged.line}: {logged.why}")
    return open_ticket(session, msg, deps, now, mail, logged)


def _hold_detail(why: str, msg: InboundMessage, ticket: Ticket) -> str:
    if why == "excluded-staff":
        return f"{msg.sender} is named in {ticket.number}"
    return f"{msg.sender} is neither the customer of {ticket.number} nor staff"


def join(
    session: Session,
    ticket: Ticket,
    msg: InboundMessage,
    role: str,
    deps: Deps,
    now: datetime,
    mail: bool,
    reason: str = "",
) -> filing.Join:
    """A message joins its ticket; its handler is told who wrote ("customer", "staff", or
    "released": a held message someone reviewed).

    What anyone but staff writes is read for names again: whoever it names is excluded from
    now on, and a named handler's ticket moves up the line before anyone is told of it.
    """
    check = None
    if role != "staff":
        # Whom this names may be who a sweep is about to remind: the sweep finishes first, or
        # passes the ticket by, so nothing it queues reaches someone this excludes.
        acting.lock(session, ticket.id)
        # Staff write about colleagues (and sign their own names) in the course of the work.
        check = confidential.recheck(
            ticket.handler,
            tuple(ticket.excluded),
            ticket.department,
            _new_text(msg),
            deps.triage.org,
            now,
        )
        check = check if check.changed else None
    if role == "customer":
        # Their answer to the satisfaction question closes the loop or reopens the ticket.
        customer_voice.heard(session, ticket, msg, deps, now, mail, check)
    handover = check.handover if check is not None else None
    handler_email = handover.after_email if handover is not None else ticket.handler_email
    if not (mail and handler_email and handler_email != msg.sender):
        return filing.Join(ticket, role, reason, (), check)
    language = deps.settings.service.default_language
    letters: list[Letter] = []
    if handover is not None:
        handed = _handover_notice(session, ticket, handover, deps)
        letters.append(Letter("assignment", handed.letter(language, handler_email)))
    customer = records.ticket_customer(session, ticket)
    facts = _facts(ticket.number, msg, ticket.category, ticket.department, ticket.severity,
                   ticket.opened_at, deps, customer.address, customer.name)  # fmt: skip
    body = FollowUp(facts, msg.sender, role)
    letters.append(Letter("followup", body.letter(language, handler_email)))
    return filing.Join(ticket, role, reason, tuple(letters), check)


def _new_text(msg: InboundMessage) -> str:
    """What a follow-up adds: the quoted earlier mail is left out, so quoting our own notice
    or the customer's first complaint moves nothing."""
    kept = replace(msg, text=quoting.strip_reply(msg.text).body)
    return intake.written_text(kept)


def _handover_notice(
    session: Session, ticket: Ticket, handover: confidential.Handover, deps: Deps
) -> notices.Assignment:
    """The assignment notice of the person a ticket moves to: the complaint as first filed."""
    zone = deps.settings.zone
    running = [
        (row.kind, row.due_at)
        for row in clockrows.of_ticket(session, ticket.id)
        if row.stopped_at is None and row.due_at is not None
    ]
    person = next(p for p in deps.triage.org.people if p.key == handover.after)
    return notices.Assignment(
        notify.ticket_facts(session, ticket, deps.settings),
        notices.cues((str(e["target"]), str(e["phrase"])) for e in ticket.evidence),
        tuple(str(m) for m in ticket.major),
        person.name,
        notices.deadlines(running, zone),
    )


def open_ticket(
    session: Session,
    msg: InboundMessage,
    deps: Deps,
    now: datetime,
    mail: bool,
    logged: staffintake.Logged | None = None,
    earlier: int | None = None,
) -> filing.Open:
    """A new complaint: classified, assigned, numbered, its opening decided. `logged`: staff
    took it down by phone, on site or from the manufacturer, for the customer it names.
    `earlier`: the sender's recent complaints, when already read (records.sender_history)."""
    triage, settings = deps.triage, deps.settings
    channel = "email"
    if logged is not None:
        channel = logged.channel
        staff_mail = msg
        msg = replace(
            msg,
            sender=_logged_address(logged, msg),
            sender_name=logged.name,
            reply_to="",
            text=logged.text or msg.text,
        )
    customer = records.customer_for(session, msg.sender, msg.sender_name, now)
    if logged is not None and logged.tier != customer.tier:
        session.get_one(Customer, customer.id).tier = logged.tier
        customer = records.CustomerRef(customer.id, logged.tier)
    since = now - timedelta(days=triage.repeat_window_days)
    if earlier is None or logged is not None:
        earlier = records.recent_tickets(session, customer.id, since, msg.subject, msg.text)
    c = triage.classify(msg.subject, msg.text, earlier)
    t = settings.tickets
    matter = matter_key(msg.subject, msg.text, c, t.vehicle_models, t.matters)
    others = records.others_same_matter(session, matter, customer.id, since)
    if others:
        c = triage.classify(msg.subject, msg.text, earlier, others)
    written = intake.written_text(msg)
    a = triage.assign(c, channel, written, now)
    period = period_of(now.astimezone(settings.zone))
    number = records.next_number(session, t.prefix, period, t.serial_digits)
    facts = _facts(number, msg, c.category, c.department, c.severity, now, deps)
    answer_to = msg.answer_address(t.answer_reply_to)
    decided = opening.decide(
        c,
        a,
        triage.plan(c, channel, customer.tier),
        c.is_major and triage.reports_major(a),
        facts,
        opening.Mail(answer_to, msg.message_id, msg.references),
        opening.Policy(
            triage.calendar,
            settings.zone,
            settings.service.default_language,
            mail,
            triage.promise,
            {p.key: p.name for p in settings.org.people},
        ),
        now,
    )
    if logged is not None:
        decided = _as_logged(decided, number, staff_mail, logged, deps)
    status = decided.status.value
    ticket = records.NewTicket(number, status, customer.id, msg.subject, channel, c, a, now, matter)
    return filing.Open(ticket, decided)


def _logged_address(logged: staffintake.Logged, msg: InboundMessage) -> str:
    """The customer record a logged complaint files under: their address, else their phone,
    else this one mail (a walk-in who left neither)."""
    if logged.email:
        return logged.email
    if logged.phone:
        return "tel:" + "".join(ch for ch in logged.phone if ch.isdigit() or ch == "+")
    return f"walk-in:{msg.message_id or msg.sha256[:16]}"


def _as_logged(
    decided: opening.Opening,
    number: str,
    staff_mail: InboundMessage,
    logged: staffintake.Logged,
    deps: Deps,
) -> opening.Opening:
    """A logged complaint's letters: the acknowledgement only to a customer address given
    (never in the staff member's thread), and the staff member's confirmation."""
    letters = [x for x in decided.letters if x.kind != "acknowledgement"]
    if logged.email:
        for x in decided.letters:
            if x.kind == "acknowledgement":
                ack = replace(x.notice, in_reply_to=None, references=())
                letters.append(Letter(x.kind, ack))
    person = notify.staff_member(staff_mail.sender, deps.settings)
    if decided.letters and person is not None:
        running = (
            (state.kind.value, state.due_at)
            for state, _ in decided.clocks
            if state.stopped_at is None and state.due_at is not None
        )
        who = " ".join(x for x in (logged.name, logged.phone, logged.email) if x)
        body = notices.Confirmation(
            number,
            staff_mail.subject,
            person.name,
            (notices.Done("log", "", logged.channel, who),),
            decided.status.value,
            notices.deadlines(running, deps.settings.zone),
            (),
            deps.settings.outbox.from_name,
        )
        language = person.language or deps.settings.service.default_language
        letters.append(Letter("confirmation", body.letter(language, person.email)))
    return replace(decided, letters=tuple(letters))


def _facts(
    number: str,
    msg: InboundMessage,
    category: str,
    department: str,
    severity: str,
    opened_at: datetime,
    deps: Deps,
    customer: str | None = None,
    customer_name: str | None = None,
) -> TicketFacts:
    """What the notices about a message's ticket say: the message as written, the ticket's
    classification, and the customer (the sender, unless the ticket names another)."""
    return TicketFacts(
        ticket=number,
        subject=msg.subject,
        customer=msg.sender if customer is None else customer,
        customer_name=msg.sender_name if customer_name is None else customer_name,
        text=msg.text,
        category=category,
        department=department,
        severity=severity,
        opened_at=local_time(opened_at, deps.settings.zone),
        service_name=deps.settings.outbox.from_name,
    )
