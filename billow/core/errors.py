"""Errors every layer may raise. The REST layer maps them to Kill Bill's error body.

Each carries Kill Bill's exception class name and `ErrorCode` number where
Kill Bill has one, so that clients which switch on `code` keep working.
"""

from __future__ import annotations


class BillowError(Exception):
    status: int = 400
    class_name: str = "java.lang.IllegalArgumentException"
    item: int | None = None  # in a call on many items (a bulk load), the position of the refused one

    def __init__(self, message: str, *, code: int | None = None, class_name: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        if class_name is not None:
            self.class_name = class_name
        if status is not None:
            self.status = status


class InvalidInput(BillowError):
    """Bad input: 400, naming the field and the problem."""

    status = 400


class NotFound(BillowError):
    status = 404


class Conflict(BillowError):
    status = 409


class Forbidden(BillowError):
    status = 403
