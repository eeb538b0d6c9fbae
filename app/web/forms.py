"""Map domain errors onto forms, so the message shows next to the field and nothing typed is lost."""

from __future__ import annotations

from flask import g
from flask_wtf import FlaskForm

from app.errors import DomainError, FieldError


def show_error(form: FlaskForm, error: DomainError) -> None:
    g.mbolo_rollback = True  # the page re-renders with 200, but nothing of the refused change is kept
    field = getattr(form, error.field, None) if isinstance(error, FieldError) else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)
