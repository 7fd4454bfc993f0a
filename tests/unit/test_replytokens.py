"""Signed reply tokens: issue, verify, every failure, rotation, and where a token travels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon import replytokens
from daemon.replytokens import Claim, Failure, Rejected

OLD = b"old secret, at least 32 bytes long...."
NEW = b"new secret, also 32 bytes or longer..."
KEYS = {"k1": OLD, "k2": NEW}
NOW = datetime(2025, 1, 14, 9, 27, tzinfo=UTC)
UNTIL = NOW + timedelta(days=30)
TICKET = "TS-202501-0003"
WANG = "Wang.Wei@Desk.Example"


def _token(kid: str = "k2", ticket: str = TICKET, recipient: str = WANG) -> str:
    return replytokens.issue(KEYS, kid, ticket, recipient, UNTIL)


def _claim(result: Claim | Rejected) -> Claim:
    assert isinstance(result, Claim), result
    return result


def _reason(result: Claim | Rejected) -> Failure:
    assert isinstance(result, Rejected), result
    return result.reason


def test_a_fresh_token_verifies_for_its_ticket_and_recipient() -> None:
    claim = _claim(replytokens.verify(_token(), KEYS, NOW, WANG, TICKET))
    assert (claim.ticket, claim.key_id) == (TICKET, "k2")
    assert claim.expires_at == UNTIL
    assert claim.issued_to("wang.wei@desk.example")


def test_the_token_is_short_lowercase_and_fits_a_local_part() -> None:
    token = _token()
    assert len(token) <= 60
    assert token == token.lower()
    local = replytokens.plus_address("complaints@desk.example", token).partition("@")[0]
    assert len(local) <= 64  # RFC 5321


def test_a_token_survives_case_folding() -> None:
    claim = _claim(replytokens.verify(_token().upper(), KEYS, NOW, WANG.upper(), TICKET.lower()))
    assert claim.ticket == TICKET


def test_an_expired_token_is_rejected() -> None:
    assert _reason(replytokens.verify(_token(), KEYS, UNTIL, WANG)) is Failure.EXPIRED


def test_a_token_is_good_until_the_minute_before_it_expires() -> None:
    later = UNTIL - timedelta(seconds=1)
    assert isinstance(replytokens.verify(_token(), KEYS, later, WANG), Claim)


def test_a_token_issued_to_another_person_is_rejected() -> None:
    result = replytokens.verify(_token(), KEYS, NOW, "li.na@desk.example")
    assert _reason(result) is Failure.WRONG_RECIPIENT


def test_a_token_for_another_ticket_is_rejected() -> None:
    result = replytokens.verify(_token(), KEYS, NOW, WANG, "TS-202501-0004")
    assert _reason(result) is Failure.WRONG_TICKET


def test_a_token_whose_ticket_was_edited_fails_its_mac() -> None:
    forged = _token().replace("0003", "0004", 1)
    assert _reason(replytokens.verify(forged, KEYS, NOW, WANG)) is Failure.BAD_MAC


def test_a_token_with_a_changed_letter_fails_its_mac() -> None:
    token = _token()
    last = "a" if token[-1] != "a" else "b"
    assert _reason(replytokens.verify(token[:-1] + last, KEYS, NOW)) is Failure.BAD_MAC


def test_a_token_signed_with_another_secret_fails_its_mac() -> None:
    other = replytokens.issue({"k2": b"someone else's secret........"}, "k2", TICKET, WANG, UNTIL)
    assert _reason(replytokens.verify(other, KEYS, NOW, WANG)) is Failure.BAD_MAC


@pytest.mark.parametrize(
    "token", ["", "hello", "ts-202501-0003.k2.tooshort", "ts-202501-0003..abc", "x" * 200]
)
def test_a_token_that_is_not_one_is_malformed(token: str) -> None:
    assert _reason(replytokens.verify(token, KEYS, NOW)) is Failure.MALFORMED


def test_an_old_key_is_accepted_while_configured_and_rejected_once_removed() -> None:
    token = _token(kid="k1")
    assert isinstance(replytokens.verify(token, KEYS, NOW, WANG), Claim)
    rotated = {"k2": NEW}
    result = replytokens.verify(token, rotated, NOW, WANG)
    assert _reason(result) is Failure.UNKNOWN_KEY
    assert isinstance(result, Rejected) and result.key_id == "k1"


def test_a_token_found_in_a_plus_address_verifies() -> None:
    token = _token()
    address = replytokens.plus_address("complaints@desk.example", token)
    assert address == f"complaints+{token}@desk.example"
    assert replytokens.in_address(address.upper()) == token


def test_an_address_without_a_token_yields_none() -> None:
    assert replytokens.in_address("complaints+sales@desk.example") is None


def test_a_token_found_in_a_message_id_and_in_the_thread() -> None:
    token = _token()
    mid = replytokens.message_id(token, "desk.example")
    assert mid == f"<t.{token}@desk.example>"
    assert replytokens.in_message_id(mid) == token
    older = replytokens.message_id(_token(ticket="TS-202501-0002"), "desk.example")
    found = replytokens.in_thread([mid.strip("<>")], ["<other@x.example>", older, mid])
    assert found == (token, replytokens.in_message_id(older))


def test_issue_refuses_a_key_id_or_ticket_that_would_not_survive_a_local_part() -> None:
    with pytest.raises(ValueError, match="key id"):
        replytokens.issue(KEYS, "K 1", TICKET, WANG, UNTIL)
    with pytest.raises(ValueError, match="ticket"):
        replytokens.issue(KEYS, "k2", "TS/2025 01", WANG, UNTIL)


def test_issue_refuses_a_naive_expiry() -> None:
    with pytest.raises(ValueError, match="naive"):
        replytokens.issue(KEYS, "k2", TICKET, WANG, datetime(2025, 2, 1))  # noqa: DTZ001
