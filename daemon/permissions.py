"""Who may give which reply command: a table of roles per command kind, with a default.

Everyone in the org chart may record what they did on a ticket (acknowledge, contact, resolve,
answer the customer, note, pause, resume, escalate, hand over, mark it major). Only customer
care confirms the customer's verdict and ends or revives a ticket (callback, close, reopen):
seed 000 has customer care call the customer back and confirm closure, not the handler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from daemon.replycommands import Kind

EVERYONE = "*"

KINDS: tuple[str, ...] = tuple(k.value for k in Kind)

# Kinds only customer care gives unless [replies.allowed] says otherwise.
CARE_ONLY: frozenset[Kind] = frozenset({Kind.CALLBACK, Kind.CLOSE, Kind.REOPEN})

# The second customer-care role besides [org] care_manager_role (seed 000: 回访专员).
CALLBACK_ROLE = "callback_specialist"

Table = Mapping[Kind, frozenset[str]]


def table(overrides: Mapping[str, Iterable[str]], care_roles: Iterable[str]) -> Table:
    """The effective table: `overrides` (kind -> roles, as config writes it) over the default."""
    care = frozenset(care_roles)
    out: dict[Kind, frozenset[str]] = {
        kind: care if kind in CARE_ONLY else frozenset({EVERYONE}) for kind in Kind
    }
    for kind, roles in overrides.items():
        out[Kind(kind)] = frozenset(roles)
    return out


def may(kind: Kind, role: str, allowed: Table) -> bool:
    """Whether someone holding `role` may give a command of `kind`."""
    roles = allowed.get(kind, frozenset())
    return EVERYONE in roles or role in roles


def refused(kinds: Iterable[Kind], role: str, allowed: Table) -> tuple[Kind, ...]:
    """The kinds among `kinds` that `role` may not give, each once, in order."""
    return tuple(dict.fromkeys(k for k in kinds if not may(k, role, allowed)))
