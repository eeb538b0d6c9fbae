"""Payment receipts as PDF, and amounts written out in French words.

**Format.** An 80 mm ticket whose height follows its content: associations collect cash at a counter where
the usual printer is an 80 mm thermal receipt printer (cheap, no ink, prints through its driver); the same
PDF also prints on an ordinary A4 printer as a narrow strip. Black on white, core fonts only (fpdf2's
Helvetica and Courier, latin-1: French accents print, other characters are approached by
``app.members.cards.latin1``). A cancelled payment's receipt can still be printed, overprinted
"ANNULÉ" with the reason, so a copy shown later cannot pass for a valid one.

The amount in words is always French, whatever the screen's language: it is the wording that counts on a
receipt in Senegal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask_babel import gettext as _
from fpdf import FPDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.services import record_event
from app.contributions.models import Allocation, Due, Payment, PaymentStatus
from app.contributions.payments import METHOD_LABELS, period_label
from app.formatting import money
from app.members.cards import latin1
from app.members.models import Member
from app.security.actor import Actor
from hierarchy.models import Node
from tenants.context import TenantRef

#: fpdf2 compresses page streams; tests turn it off to find the printed text in the bytes.
PDF_COMPRESSION = True
TICKET_W = 80.0  # mm
_MARGIN = 4.0
_INK = (0, 0, 0)
_GREY = (90, 90, 90)
_STAMP = (200, 30, 30)

# --- amounts in words --------------------------------------------------------------------------------------

_UNITS = (
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze",
    "treize", "quatorze", "quinze", "seize",
)  # fmt: skip
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def _below_100(n: int) -> str:
    if n < 17:
        return _UNITS[n]
    if n < 20:
        return f"dix-{_UNITS[n - 10]}"
    tens, unit = divmod(n, 10)
    if tens == 7:  # soixante-dix … soixante-dix-neuf, but "soixante et onze"
        return "soixante et onze" if unit == 1 else f"soixante-{_below_100(n - 60)}"
    if tens == 8:  # "quatre-vingts" alone, "quatre-vingt-un" (no "et")
        return "quatre-vingts" if unit == 0 else f"quatre-vingt-{_UNITS[unit]}"
    if tens == 9:  # quatre-vingt-dix … quatre-vingt-dix-neuf, "quatre-vingt-onze" (no "et")
        return f"quatre-vingt-{_below_100(n - 80)}"
    if unit == 0:
        return _TENS[tens]
    return f"{_TENS[tens]} et un" if unit == 1 else f"{_TENS[tens]}-{_UNITS[unit]}"


def _below_1000(n: int, *, final: bool) -> str:
    """``final``: nothing but a noun (million, milliard) or the end follows, so "cents" and "quatre-vingts"
    keep their s; before "mille" (an adjective, invariable) they lose it: "deux cent mille"."""
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds == 1:
        words.append("cent")
    elif hundreds:
        words.append(f"{_UNITS[hundreds]} cent{'s' if rest == 0 and final else ''}")
    if rest:
        tail = _below_100(rest)
        words.append(tail[:-1] if tail.endswith("vingts") and not final else tail)
    return " ".join(words)


def number_in_words_fr(n: int) -> str:
    """A whole number in French words, traditional spelling (the one used on cheques and receipts):
    "vingt et un", "soixante et onze", "quatre-vingts", "deux cents", "deux cent un", "mille", "deux mille",
    "un million", "deux millions"."""
    if n < 0 or n >= 10**12:
        raise ValueError("only 0 ≤ n < 10¹² is written out")
    if n == 0:
        return _UNITS[0]
    billions, rest = divmod(n, 10**9)
    millions, rest = divmod(rest, 10**6)
    thousands, units = divmod(rest, 1000)
    words = []
    for count, noun in ((billions, "milliard"), (millions, "million")):
        if count:
            words.append(f"{_below_1000(count, final=True)} {noun}{'s' if count > 1 else ''}")
    if thousands:
        words.append("mille" if thousands == 1 else f"{_below_1000(thousands, final=False)} mille")
    if units:
        words.append(_below_1000(units, final=True))
    return " ".join(words)


def amount_in_words_fr(n: int) -> str:
    """``vingt-cinq mille francs CFA``; "un franc CFA", "zéro franc CFA"; "un million de francs CFA"."""
    words = number_in_words_fr(n)
    if n >= 10**6 and n % 10**6 == 0:
        return f"{words} de francs CFA"
    return f"{words} {'franc' if n < 2 else 'francs'} CFA"


# --- the receipt -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    label: str
    amount: int


@dataclass(frozen=True)
class Receipt:
    """What a printed receipt shows."""

    mutual: str
    association: str
    number: str
    received_on: dt.date
    member_name: str
    member_number: str
    amount: int
    method: str
    lines: list[ReceiptLine]
    credit: int
    agent: str
    corrects: str | None = None
    cancelled_reason: str | None = None
    cancelled_at: dt.datetime | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancelled_reason is not None


def receipt_for(session: Session, tenant: TenantRef, payment: Payment) -> Receipt:
    """The receipt's content. A cancelled payment shows the dues it had covered (its reversed allocations)."""
    member = session.get(Member, payment.member_id)
    association = session.get(Node, payment.association_id)
    assert member is not None
    cancelled = payment.status is PaymentStatus.cancelled
    query = (
        select(Allocation, Due)
        .join(Due, Due.id == Allocation.due_id)
        .where(Allocation.payment_id == payment.id)
        .order_by(Due.due_date, Allocation.id)
    )
    if not cancelled:
        query = query.where(Allocation.reversed_at.is_(None))
    lines = [ReceiptLine(period_label(due), allocation.amount) for allocation, due in session.execute(query)]
    corrects = session.get(Payment, payment.corrects_id) if payment.corrects_id else None
    return Receipt(
        mutual=tenant.name,
        association=association.name if association is not None else "",
        number=payment.receipt_number,
        received_on=payment.received_on,
        member_name=member.full_name,
        member_number=member.number,
        amount=payment.amount,
        method=str(METHOD_LABELS.get(str(payment.method), payment.method)),
        lines=lines,
        credit=0 if cancelled else payment.unallocated,
        agent=payment.agent_label,
        corrects=corrects.receipt_number if corrects is not None else None,
        cancelled_reason=(payment.cancelled_reason or "") if cancelled else None,
        cancelled_at=payment.cancelled_at,
    )


def _pdf(height: float) -> FPDF:
    pdf = FPDF(unit="mm", format=(TICKET_W, height))
    pdf.set_compression(PDF_COMPRESSION)
    pdf.set_auto_page_break(False)
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_creator("Mbolo")
    pdf.add_page()
    return pdf


def _centered(pdf: FPDF, value: str, size: float, style: str = "", height: float | None = None) -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.multi_cell(0, height or size * 0.5, latin1(value), align="C", new_x="LMARGIN", new_y="NEXT")


def _pair(pdf: FPDF, label: str, value: str, size: float = 8.5) -> None:
    """A label on the left (wrapping if long) and its value on the right of its first line."""
    pdf.set_font("Helvetica", "", size)
    width = pdf.w - 2 * _MARGIN
    value_text = latin1(value)
    label_w = max(width - pdf.get_string_width(value_text) - 2, width * 0.45)
    top = pdf.get_y()
    pdf.multi_cell(label_w, size * 0.5, latin1(label), align="L", new_x="LMARGIN", new_y="NEXT")
    bottom = pdf.get_y()
    pdf.set_xy(_MARGIN + label_w, top)
    pdf.multi_cell(width - label_w, size * 0.5, value_text, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), bottom))


def _rule(pdf: FPDF) -> None:
    pdf.ln(1.5)
    pdf.set_draw_color(*_GREY)
    pdf.set_line_width(0.2)
    pdf.set_dash_pattern(dash=1, gap=0.8)
    pdf.line(_MARGIN, pdf.get_y(), pdf.w - _MARGIN, pdf.get_y())
    pdf.set_dash_pattern()
    pdf.ln(2)


def _draw(pdf: FPDF, receipt: Receipt) -> float:
    """Lay the receipt out from the top; return where it ends."""
    pdf.set_text_color(*_INK)
    if receipt.cancelled:
        pdf.set_text_color(*_STAMP)
        _centered(pdf, _("ANNULÉ — motif : %(reason)s", reason=receipt.cancelled_reason), 9, "B")
        pdf.set_text_color(*_INK)
        pdf.ln(1)
    _centered(pdf, receipt.mutual, 11, "B")
    if receipt.association:
        _centered(pdf, receipt.association, 8.5)
    pdf.ln(1.5)
    _centered(pdf, _("REÇU DE COTISATION"), 10, "B")
    pdf.set_font("Courier", "B", 12)
    pdf.cell(0, 6, receipt.number, align="C", new_x="LMARGIN", new_y="NEXT")
    _centered(pdf, _("Payé le %(date)s", date=receipt.received_on.strftime("%d/%m/%Y")), 8.5)
    if receipt.corrects:
        _centered(pdf, _("Remplace le reçu n° %(number)s", number=receipt.corrects), 8, "I")
    _rule(pdf)
    _pair(pdf, _("Adhérent"), receipt.member_name, 9)
    _pair(pdf, _("N° de membre"), receipt.member_number, 9)
    _rule(pdf)
    _centered(pdf, money(receipt.amount), 15, "B", 8)
    words = amount_in_words_fr(receipt.amount)
    _centered(pdf, words[:1].upper() + words[1:], 8.5, "I")
    pdf.ln(1)
    _pair(pdf, _("Mode de paiement"), receipt.method)
    _rule(pdf)
    pdf.set_font("Helvetica", "B", 8.5)
    pdf.cell(0, 4.5, latin1(_("Cotisations réglées")), new_x="LMARGIN", new_y="NEXT")
    for line in receipt.lines:
        _pair(pdf, line.label, money(line.amount))
    if receipt.credit:
        _pair(pdf, _("Avance sur les cotisations à venir"), money(receipt.credit))
    if not receipt.lines and not receipt.credit:
        _pair(pdf, "-", "")
    _rule(pdf)
    _pair(pdf, _("Encaissé par"), receipt.agent, 8)
    pdf.ln(2)
    pdf.set_text_color(*_GREY)
    _centered(pdf, _("Merci. Conservez ce reçu : il prouve votre paiement."), 7.5)
    pdf.set_text_color(*_INK)
    return pdf.get_y() + _MARGIN


def _stamp(pdf: FPDF, height: float) -> None:
    """Overprint "ANNULÉ" across the ticket, on top of everything: no copy passes for a valid receipt."""
    pdf.set_text_color(*_STAMP)
    pdf.set_font("Helvetica", "B", 30)
    word = latin1(_("ANNULÉ"))
    cx, cy = TICKET_W / 2, height / 2
    with pdf.local_context(fill_opacity=0.45), pdf.rotation(angle=30, x=cx, y=cy):
        pdf.text(cx - pdf.get_string_width(word) / 2, cy + 4, word)
    pdf.set_text_color(*_INK)


def receipt_pdf(receipt: Receipt) -> bytes:
    """The ticket: laid out once on a long page to measure it, then on a page of exactly its height."""
    height = max(_draw(_pdf(1000), receipt), 90.0)
    pdf = _pdf(height)
    _draw(pdf, receipt)
    if receipt.cancelled:
        _stamp(pdf, height)
    return bytes(pdf.output())


def print_receipt(session: Session, tenant: TenantRef, actor: Actor, payment: Payment) -> bytes:
    """The receipt of a payment the actor may read (the caller got it through ``get_payment``); printing
    is recorded (a receipt reprinted many times is worth knowing about)."""
    data = receipt_pdf(receipt_for(session, tenant, payment))
    record_event(
        session, actor, "contributions.receipt_printed", target_type="payment",
        target_id=payment.receipt_number, status=str(payment.status),
    )  # fmt: skip
    return data
