"""The one way the mobile-money adapters talk HTTP: short timeouts, JSON in and out, and every failure turned
into a ``ProviderError`` whose ``retryable`` flag the payments job can act on without knowing httpx.

Why a helper: the adapters must never hang a web worker on a slow operator API, and the retry decision
(timeouts, connection errors, 429 and 5xx may succeed later; other 4xx never will) must be the same for every
provider. Secrets are never put in error messages: only the method, path, status and the provider's own
error text are."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from payments.providers.base import ProviderError

#: Seconds for one call. A member is waiting on a page: better fail fast and let the job retry.
DEFAULT_TIMEOUT = 10.0

#: HTTP statuses that may succeed if the same request is sent again later.
RETRYABLE_STATUSES = frozenset({408, 425, 429})


def is_retryable_status(status: int) -> bool:
    """5xx and the few 4xx that mean "not now" (timeout, too early, rate limited) are worth retrying."""
    return status >= 500 or status in RETRYABLE_STATUSES


def _error_text(response: httpx.Response) -> str:
    """The provider's own explanation, shortened: enough to diagnose, never a whole HTML error page."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        for key in ("message", "error_description", "description", "error", "detail", "code"):
            value = body.get(key)
            if isinstance(value, str | int):
                return str(value)[:200]
            if isinstance(value, dict) and "message" in value:
                return str(value["message"])[:200]
    return json.dumps(body)[:200]


class JsonHttp:
    """A tiny JSON client bound to one provider's base URL. A fresh connection per call keeps it thread-safe
    and leak-free; the volumes (a few calls per payment) do not need pooling."""

    def __init__(self, provider: str, base_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request and return the decoded JSON object (``{}`` for an empty body).

        Raises ``ProviderError(retryable=True)`` on timeouts, connection failures, 429 and 5xx, and
        ``ProviderError(retryable=False)`` on any other non-2xx answer."""
        where = f"{self.provider} {method} {path}"
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.request(
                    method,
                    self.base_url + path,
                    json=dict(json_body) if json_body is not None else None,
                    data=dict(form) if form is not None else None,
                    headers={"Accept": "application/json", **(headers or {})},
                    auth=auth,
                )
        except httpx.TimeoutException as error:
            raise ProviderError(f"{where}: timed out after {self.timeout:g}s", retryable=True) from error
        except httpx.TransportError as error:
            raise ProviderError(f"{where}: unreachable ({type(error).__name__})", retryable=True) from error
        if not response.is_success:
            raise ProviderError(
                f"{where}: HTTP {response.status_code}: {_error_text(response)}",
                retryable=is_retryable_status(response.status_code),
            )
        if not response.content.strip():
            return {}
        try:
            body = response.json()
        except ValueError as error:
            # A 2xx that is not JSON is usually a gateway or maintenance page in front of the API.
            raise ProviderError(f"{where}: answer is not JSON", retryable=True) from error
        if not isinstance(body, dict):
            raise ProviderError(f"{where}: answer is not a JSON object", retryable=False)
        return body


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name: frameworks and proxies do not agree on capitalisation."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def integral_amount(value: Any, *, provider: str) -> int:
    """An amount the provider sent (Wave sends strings like ``"125"``) as an integer of minor units.

    XOF has no minor unit, so ``"125.50"`` is not a rounding matter but a sign the answer is not what we
    think: refuse it rather than credit a wrong amount."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise ProviderError(f"{provider}: amount {value!r} is not a number", retryable=False) from error
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise ProviderError(f"{provider}: amount {value!r} is not a whole number", retryable=False)
    return int(amount)
