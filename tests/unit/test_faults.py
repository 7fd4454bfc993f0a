"""Which database errors mean "the database is out of reach" and which "this message cannot be
stored": the first keeps the message for a later try, the second quarantines it."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from daemon.store import faults


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


def _sqlite_error(code: int) -> sqlite3.Error:
    error = sqlite3.OperationalError("sqlite says no")
    error.sqlite_errorcode = code
    return error


def test_a_generic_connection_failure_counts_as_the_database_down() -> None:
    assert faults.unreachable(OperationalError("INSERT", {}, Exception("disk I/O error")))


def test_a_value_too_long_is_the_messages_fault_not_an_outage() -> None:
    assert not faults.unreachable(DataError("INSERT", {}, Exception("value too long")))


def test_an_error_outside_the_database_is_not_an_outage() -> None:
    assert not faults.unreachable(ValueError("x"))


def test_a_postgresql_connection_exception_class_is_an_outage() -> None:
    assert faults.unreachable(OperationalError("SELECT 1", {}, _PgError("08006")))


def test_a_postgresql_string_too_long_is_the_messages_fault_even_as_an_operational_error() -> None:
    assert not faults.unreachable(OperationalError("INSERT", {}, _PgError("22001")))


def test_a_busy_sqlite_database_is_an_outage() -> None:
    assert faults.unreachable(OperationalError("INSERT", {}, _sqlite_error(sqlite3.SQLITE_BUSY)))


def test_a_read_only_sqlite_file_with_an_extended_code_is_an_outage() -> None:
    extended = sqlite3.SQLITE_READONLY | (1 << 8)
    assert faults.unreachable(OperationalError("INSERT", {}, _sqlite_error(extended)))


def test_a_unique_violation_is_recognised_on_both_databases() -> None:
    assert faults.is_unique_violation(IntegrityError("INSERT", {}, _PgError("23505")))
    assert faults.is_unique_violation(IntegrityError("INSERT", {}, _sqlite_error(2067)))
    assert not faults.is_unique_violation(IntegrityError("INSERT", {}, _PgError("23502")))


def test_strikes_count_failures_of_the_same_kind_in_a_row() -> None:
    strikes = faults.Strikes()
    assert strikes.add("m", "OperationalError:None") == 1
    assert strikes.add("m", "OperationalError:None") == 2
    assert strikes.add("m", "DataError:22001") == 1
    strikes.forget("m")
    assert strikes.add("m", "DataError:22001") == 1
