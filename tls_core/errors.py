"""The error tree of the whole product.

Every error the library raises derives from :class:`TlsError`; each stage of the data flow owns
one family, so a caller can catch a stage (``except AdapterError``) or everything
(``except TlsError``)::

    TlsError
    ├── ConfigError                 bad option, unknown kind/region/layout name
    ├── IdentifierError             a value cannot be normalized as the kind asked for
    ├── SchemaError                 a table does not conform to a canonical schema
    ├── AdapterError                penlink_adapters: reading carrier returns
    │   ├── DetectionError          no layout fits a file (names the closest ones)
    │   ├── LayoutError             a layout file is itself invalid
    │   └── ReadError               a file cannot be read as its layout says
    ├── StoreError                  the TLS repository
    │   ├── ConflictError           a concurrent commit won; retry budget spent
    │   └── IntegrityError          a stored file fails verification
    ├── LinkError                   a link or search SQL step failed (carries step and SQL)
    └── CaseStoreError              icm_bridge: case store, outbox, audit
        ├── AccessDenied            the policy denies the action (no existence oracle)
        ├── TrainingLapsed          annual privacy training has lapsed
        └── AuditUnavailable        the audit log cannot be written: fail closed

Errors carry the fields a user needs to find the problem (file, row, column, value, reason,
hint) and pickle, so batch workers can send them across processes.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccessDenied",
    "AdapterError",
    "AuditUnavailable",
    "CaseStoreError",
    "ConfigError",
    "ConflictError",
    "DetectionError",
    "IdentifierError",
    "IntegrityError",
    "LayoutError",
    "LinkError",
    "ReadError",
    "SchemaError",
    "StoreError",
    "TlsError",
    "TrainingLapsed",
]


class TlsError(Exception):
    """Root of every error raised by ``tls_core``, ``penlink_adapters`` and ``icm_bridge``.

    Attributes:
        message: What was found, in one sentence.
        file: The file concerned, if any.
        row: 1-based row (line) number in that file, if any.
        column: Column name (or 1-based index) concerned, if any.
        value: The offending value as read, if any.
        reason: A stable, machine-readable reason code (``snake_case``).
        hint: What the user can do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        value: str | None = None,
        reason: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.value = value
        self.reason = reason
        self.hint = hint

    def _fields(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "reason": self.reason,
            "hint": self.hint,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle only their positional args by default; keep the fields too.
        return (_rebuild, (type(self), self.message, self._fields(), self.__dict__))

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = f"{', '.join(where)}: {self.message}" if where else self.message
        if self.value is not None:
            text += f" (value {self.value!r})"
        if self.reason is not None:
            text += f" [{self.reason}]"
        if self.hint:
            text += f"; hint: {self.hint}"
        return text


def _rebuild(
    cls: type[TlsError], message: str, fields: dict[str, Any], state: dict[str, Any]
) -> TlsError:
    err = cls.__new__(cls)
    TlsError.__init__(err, message, **fields)
    err.__dict__.update(state)
    return err


class ConfigError(TlsError):
    """An option or setting is invalid (unknown kind, region, layout or zone name)."""


class IdentifierError(TlsError):
    """A value cannot be normalized as the identifier kind that was asked for."""


class SchemaError(TlsError):
    """A table does not conform to the canonical schema it claims."""


class AdapterError(TlsError):
    """Reading a carrier return failed."""


class DetectionError(AdapterError):
    """No known layout fits a file; the message names the closest layouts and what differed."""


class LayoutError(AdapterError):
    """A layout file is itself invalid."""


class ReadError(AdapterError):
    """A file cannot be read as its layout says."""


class StoreError(TlsError):
    """The TLS repository refused or failed an operation; nothing stored was changed."""


class ConflictError(StoreError):
    """A concurrent commit won and the bounded retries were spent."""


class IntegrityError(StoreError):
    """A stored file does not match its recorded SHA-256, or an invariant is broken."""


class LinkError(TlsError):
    """A link or search step failed.

    Attributes:
        step: Name of the SQL step (the table it produces).
        sql: The SQL text of that step (values are bound parameters, never in the text).
    """

    def __init__(self, message: str, *, step: str, sql: str, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.step = step
        self.sql = sql


class CaseStoreError(TlsError):
    """The case store, notification outbox or audit log failed."""


class AccessDenied(CaseStoreError):
    """The access policy denies the action.

    The message never says whether a restricted object exists.
    """


class TrainingLapsed(AccessDenied):
    """The user's annual privacy training has lapsed; every action is denied until renewed."""


class AuditUnavailable(CaseStoreError):
    """The audit log cannot be written, so the action was refused (fail closed)."""
