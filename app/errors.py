"""Base domain errors; every module's ``errors.py`` subclasses these."""

from __future__ import annotations


class DomainError(Exception):
    """A refused operation, with a message meant for the user (already translatable)."""

    def __init__(self, message: object = "") -> None:
        super().__init__(str(message))
        self.message = message


class FieldError(DomainError):
    """Bad input for one field: the view shows ``message`` next to ``field``."""

    def __init__(self, field: str, message: object) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DomainError):
    """The object does not exist (or is outside the actor's reach, which reads the same)."""


class Forbidden(DomainError):
    """The actor lacks the permission for this operation on this node."""
