from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_login import current_user


def select_locale() -> str | None:
    """The user's choice (account, then this browser's), then Accept-Language, then French."""
    locales = current_app.config["MBOLO_LOCALES"]
    if not has_request_context():  # CLI, tasks: the platform's language
        return "fr"
    chosen = session.get("locale")
    if chosen in locales:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in locales:
        return current_user.locale
    return request.accept_languages.best_match(locales) or "fr"
