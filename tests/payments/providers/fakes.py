"""Local stand-ins for the providers' APIs, served by werkzeug on 127.0.0.1 (port 0) in a thread, so the
adapters are exercised over real HTTP — timeouts, status codes, headers — without any network.

Each fake keeps the requests it received (to assert idempotency keys and bodies) and can be told to answer
the next calls slowly (``delay``) or with an error (``fail_with``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from payments.providers.base import StartRequest


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


@dataclass
class FakeProvider:
    """Base fake: subclasses implement ``handle`` and return (status, JSON body)."""

    requests: list[Seen] = field(default_factory=list)
    delay: float = 0.0
    fail_with: tuple[int, dict[str, Any]] | None = None
    url: str = ""

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        raise NotImplementedError

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.requests.append(
            Seen(request.method, request.path, dict(request.headers), request.get_data(cache=True))
        )
        if self.delay:
            time.sleep(self.delay)
        if self.fail_with is not None:
            status, body = self.fail_with
        else:
            status, body = self.handle(request)
        return Response(json.dumps(body), status=status, content_type="application/json")(
            environ, start_response
        )

    def last(self, path_part: str = "") -> Seen:
        return [seen for seen in self.requests if path_part in seen.path][-1]


@contextmanager
def serve(fake: FakeProvider) -> Iterator[FakeProvider]:
    """Run ``fake`` on a free loopback port for the duration of the block; ``fake.url`` is its base URL."""
    server = make_server("127.0.0.1", 0, fake, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- Stripe -------------------------------------------------------------------------------------------------


@dataclass
class FakeStripe(FakeProvider):
    """Checkout Sessions and Refunds, form-encoded like the real API."""

    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        form = parse_qs(request.get_data(as_text=True))

        def one(key: str) -> str:
            return form[key][0]

        if request.method == "POST" and request.path == "/v1/checkout/sessions":
            session_id = f"cs_test_{len(self.sessions) + 1}"
            session = {
                "id": session_id,
                "object": "checkout.session",
                "url": f"https://checkout.stripe.test/c/pay/{session_id}",
                "mode": one("mode"),
                "status": "open",
                "payment_status": "unpaid",
                "amount_total": int(one("line_items[0][price_data][unit_amount]")),
                "currency": one("line_items[0][price_data][currency]"),
                "client_reference_id": one("client_reference_id"),
                "metadata": {"payment_id": one("metadata[payment_id]")},
                "payment_intent": None,
            }
            self.sessions[session_id] = session
            return 200, session
        if request.method == "GET" and request.path.startswith("/v1/checkout/sessions/"):
            session = self.sessions.get(request.path.rsplit("/", 1)[1])
            if session is None:
                return 404, {
                    "error": {"type": "invalid_request_error", "message": "No such checkout session"}
                }
            return 200, session
        if request.method == "POST" and request.path == "/v1/refunds":
            return 200, {
                "id": "re_test_1",
                "object": "refund",
                "amount": int(one("amount")),
                "currency": "xof",
                "payment_intent": one("payment_intent"),
                "status": "succeeded",
            }
        return 404, {"error": {"type": "invalid_request_error", "message": "unknown route"}}


# --- Wave ---------------------------------------------------------------------------------------------------


@dataclass
class FakeWave(FakeProvider):
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        if request.headers.get("Authorization") != "Bearer wave_sn_prod_test":
            return 401, {"code": "missing-auth-header", "message": "bad key"}
        if request.method == "POST" and request.path == "/v1/checkout/sessions":
            body = request.get_json()
            session_id = f"cos-{len(self.sessions) + 1}"
            session = {
                "id": session_id,
                "amount": body["amount"],
                "currency": body["currency"],
                "client_reference": body["client_reference"],
                "success_url": body["success_url"],
                "error_url": body["error_url"],
                "checkout_status": "open",
                "payment_status": "processing",
                "wave_launch_url": f"https://pay.wave.com/c/{session_id}",
            }
            self.sessions[session_id] = session
            return 201, session
        parts = request.path.strip("/").split("/")
        if parts[:3] == ["v1", "checkout", "sessions"] and len(parts) >= 4:
            session = self.sessions.get(parts[3])
            if session is None:
                return 404, {"code": "not-found", "message": "no such session"}
            if request.method == "GET" and len(parts) == 4:
                return 200, session
            if request.method == "POST" and parts[4:] == ["refund"]:
                return 200, {}
        return 404, {"code": "not-found", "message": "unknown route"}


# --- Orange Money -------------------------------------------------------------------------------------------


@dataclass
class FakeOrangeMoney(FakeProvider):
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens_issued: int = 0

    def handle(self, request: Request) -> tuple[int, dict[str, Any]]:
        if request.path == "/oauth/v3/token":
            if request.authorization is None or request.authorization.username != "om-client":
                return 401, {"error": "invalid_client"}
            self.tokens_issued += 1
            return 200, {
                "token_type": "Bearer",
                "access_token": f"tok-{self.tokens_issued}",
                "expires_in": 3600,
            }
        if not (request.headers.get("Authorization") or "").startswith("Bearer tok-"):
            return 401, {"code": 42, "message": "Expired credentials"}
        if request.path == "/orange-money-webpay/sn/v1/webpayment":
            body = request.get_json()
            if body["merchant_key"] != "mk-test":
                return 400, {"code": 1, "message": "invalid merchant key"}
            n = len(self.transactions) + 1
            pay_token = f"v1{n:08x}paytoken"
            self.transactions[pay_token] = {**body, "status": "INITIATED", "txnid": None}
            return 201, {
                "status": 201,
                "message": "OK",
                "pay_token": pay_token,
                "payment_url": f"https://webpayment.orange-money.test/payment/pay_token/{pay_token}",
                "notif_token": f"notif{n:08x}",
            }
        if request.path == "/orange-money-webpay/sn/v1/transactionstatus":
            body = request.get_json()
            txn = self.transactions.get(body["pay_token"])
            if txn is None or txn["order_id"] != body["order_id"] or txn["amount"] != body["amount"]:
                return 400, {"code": 2, "message": "unknown transaction"}
            return 201, {"status": txn["status"], "order_id": txn["order_id"], "txnid": txn["txnid"]}
        return 404, {"code": 404, "message": "unknown route"}


def start_request(provider: str, payment_id: str = "pay_123", *, phone: str | None = None) -> StartRequest:
    """What the payments service asks a provider to start: a 5 000 F CFA contribution."""
    return StartRequest(
        payment_id=payment_id,
        amount=5000,
        currency="XOF",
        description="Cotisation 2026",
        customer_phone=phone,
        return_url=f"https://mbolo.test/ndiaye/paiements/{payment_id}/retour",
        cancel_url=f"https://mbolo.test/ndiaye/paiements/{payment_id}/annule",
        webhook_url=f"https://mbolo.test/ndiaye/paiements/webhooks/{provider}",
    )
