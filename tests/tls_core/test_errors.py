from __future__ import annotations

import pickle

import pytest

from tls_core import errors
from tls_core.errors import LinkError, ReadError, TlsError


def test_every_error_derives_from_the_root():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), TlsError)


@pytest.mark.parametrize("cls", [getattr(errors, n) for n in errors.__all__ if n != "LinkError"])
def test_errors_pickle_with_their_fields(cls):
    err = cls("bad date", file="r.csv", row=7, column="Date", value="13/45/2020", reason="bad_date")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert (back.file, back.row, back.column, back.value, back.reason) == (
        "r.csv",
        7,
        "Date",
        "13/45/2020",
        "bad_date",
    )
    assert str(back) == str(err)


def test_link_error_keeps_step_and_sql():
    err = LinkError("boom", step="shared_identifiers", sql="SELECT 1", reason="sql_failed")
    back = pickle.loads(pickle.dumps(err))
    assert (back.step, back.sql, back.reason) == ("shared_identifiers", "SELECT 1", "sql_failed")


def test_message_names_file_row_column_and_hint():
    err = ReadError(
        "unreadable time",
        file="att.csv",
        row=12,
        column="Conn. Time (UTC)",
        value="25:61",
        reason="bad_date",
        hint="check the layout's time format",
    )
    assert str(err) == (
        "att.csv, row 12, column 'Conn. Time (UTC)': unreadable time (value '25:61') "
        "[bad_date]; hint: check the layout's time format"
    )
