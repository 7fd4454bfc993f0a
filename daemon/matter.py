"""What a complaint is about, as a key several customers' complaints share: a group complaint
is three or more customers about one matter (seed 003)."""

from __future__ import annotations

from daemon.values import Classification

# The rules' targets whose phrases name a part or system of the vehicle: the fault.
_FAULT_TARGETS = ("category:product_quality",)


def matter_key(
    subject: str,
    text: str,
    c: Classification,
    vehicle_models: tuple[str, ...],
    matters: tuple[str, ...],
) -> str:
    """A named matter the complaint mentions ("matter:<phrase>"), else the vehicle model it
    names with its strongest fault phrase ("<model>|<phrase>"), else "" (no matter)."""
    written = f"{subject}\n{text}".casefold()
    for phrase in matters:
        if phrase.strip() and phrase.strip().casefold() in written:
            return f"matter:{phrase.strip().casefold()}"[:200]
    named = (m.strip() for m in vehicle_models)
    model = next((m for m in named if m and m.casefold() in written), "")
    if not model:
        return ""
    faults = [e for e in c.evidence if e.target in _FAULT_TARGETS]
    if not faults:
        return ""
    fault = max(faults, key=lambda e: e.weight).phrase
    return f"{model.casefold()}|{fault.casefold()}"[:200]


# The major flag of a group complaint, as daemon.classify sets it.
GROUP = "group"


def group_flags(major: tuple[str, ...]) -> tuple[str, ...] | None:
    """The major flags an earlier ticket takes when its matter becomes a group complaint;
    None when it is major already, so its general manager and legal have been told."""
    return None if major else (GROUP,)
