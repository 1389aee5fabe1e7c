"""The bill as the customer sees it: a PDF through Typst, in the account's language (English or
Spanish), e-bill emails for paperless customers and a print file (one PDF per batch with a
manifest) for the rest.

The PDF template reads its data as JSON (``sys.inputs.data``) through Typst's ``json()``, like
the ledger's statement: nothing a customer typed is ever read as markup. One compiler per
process is reused for every bill (fonts load and the template parses once).

One bill (the PDF a CSR or the portal opens) is one tagged Typst document. Many bills (e-bills,
the benchmark) are rendered as batches: one Typst document per batch, split into one PDF per
bill with pikepdf at the page labels, which restart at "1" where each bill starts. A compile
has a fixed cost (the PDF, its font subsets) that a batch pays once, and that is what makes
more than a hundred bills a second per core possible (figures in bench/README.md).

The remittance stub's OCR scan line is the payments app's format; billing sits beside
payments in the layers, so the caller (a command or a view) passes the function that builds
it (``ohm.payments.scanline.build_scan_line``).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from ohm.billing.models import Bill, BillLine, BillSegment, lines_of_bills
from ohm.core import audit
from ohm.core.money import format_cents
from ohm.customers.models import AccountPerson

if TYPE_CHECKING:
    import typst

TEMPLATES = Path(__file__).resolve().parent / "templates" / "billing"
ScanLineBuilder = Callable[..., str]

MONTHS = {
    "en": "January February March April May June July August September October November December",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}
SHORT_MONTHS = {
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec",
    "es": "ene feb mar abr may jun jul ago sep oct nov dic",
}

LABELS = {
    "en": {
        "title": "Electric bill",
        "account": "Account",
        "bill": "Bill",
        "bill_date": "Bill date",
        "due_date": "Due date",
        "service_address": "Service address",
        "period": "Service period",
        "days": "days",
        "summary": "Account summary",
        "previous": "Previous balance",
        "payments": "Payments",
        "adjustments": "Adjustments",
        "new_charges": "New charges",
        "total_due": "Total amount due",
        "charges": "Charges",
        "description": "Description",
        "quantity": "Quantity",
        "price": "Price",
        "amount": "Amount",
        "usage_history": "Your usage, last 13 bills (kWh)",
        "messages": "Messages",
        "stub": "Return this part with your payment",
        "amount_enclosed": "Amount enclosed",
        "pay_to": "Make checks payable to",
        "rate": "Rate",
        "usage": "Usage",
        "estimated": "estimated",
        "max_demand": "Maximum demand",
        "no_change": "No charge changed from the bill this one replaces.",
    },
    "es": {
        "title": "Factura de electricidad",
        "account": "Cuenta",
        "bill": "Factura",
        "bill_date": "Fecha de factura",
        "due_date": "Fecha de vencimiento",
        "service_address": "Dirección de servicio",
        "period": "Período de servicio",
        "days": "días",
        "summary": "Resumen de la cuenta",
        "previous": "Saldo anterior",
        "payments": "Pagos",
        "adjustments": "Ajustes",
        "new_charges": "Cargos nuevos",
        "total_due": "Total a pagar",
        "charges": "Cargos",
        "description": "Descripción",
        "quantity": "Cantidad",
        "price": "Precio",
        "amount": "Importe",
        "usage_history": "Su consumo, últimas 13 facturas (kWh)",
        "messages": "Mensajes",
        "stub": "Devuelva esta parte con su pago",
        "amount_enclosed": "Cantidad adjunta",
        "pay_to": "Cheques a nombre de",
        "rate": "Tarifa",
        "usage": "Consumo",
        "estimated": "estimado",
        "max_demand": "Demanda máxima",
        "no_change": "Ningún cargo cambió respecto de la factura que esta reemplaza.",
    },
}

#: Bill-line descriptions from the rating engine, in Spanish (patterns tried in order).
_SPANISH_LINES = [
    (re.compile(r"^Fixed charge"), "Cargo fijo"),
    (re.compile(r"^Customer charge"), "Cargo de cliente"),
    (re.compile(r"^Energy"), "Energía"),
    (re.compile(r"^Fuel adjustment, month"), "Ajuste de combustible, mes"),
    (re.compile(r"^Minimum charge"), "Cargo mínimo"),
    (re.compile(r"^Utility users tax"), "Impuesto a los usuarios de servicios públicos"),
    (re.compile(r"^Low-income discount"), "Descuento por bajos ingresos"),
    (re.compile(r"^Net metering credit"), "Crédito de medición neta"),
    (re.compile(r"^Demand"), "Demanda"),
    (re.compile(r", period "), ", período "),
    (re.compile(r", tier "), ", nivel "),
    (re.compile(r" of (\d+) days"), r" de \1 días"),
    (re.compile(r"\bnot served\b"), "sin servicio"),
]


def translate_line(description: str, language: str) -> str:
    if language != "es":
        return description
    for pattern, replacement in _SPANISH_LINES:
        description = pattern.sub(replacement, description)
    return description


def format_date(day: date, language: str) -> str:
    month = MONTHS.get(language, MONTHS["en"]).split()[day.month - 1]
    if language == "es":
        return f"{day.day} de {month} de {day.year}"
    return f"{month} {day.day}, {day.year}"


def message_text(message: dict, *, language: str, due_date: date) -> str:
    """A bill message in the bill's language (codes and figures are stored, not words)."""
    code = message.get("code")
    es = language == "es"
    if code == "estimated":
        streak = int(message.get("streak", 1))
        text = (
            "Esta factura se basa en lecturas estimadas; se ajustará cuando leamos su medidor."
            if es
            else "This bill is based on estimated reads; it will be trued up when your meter is read."
        )
        if streak > 1:
            text += (
                f" Es la factura estimada número {streak} seguida: llámenos para darnos acceso al medidor."
                if es
                else f" This is estimated bill {streak} in a row: please call us so we can reach your meter."
            )
        return text
    if code == "past_due":
        amount = format_cents(int(message["cents"]))
        if es:
            return (
                f"Su cuenta tiene un saldo vencido de {amount}. Páguelo antes del "
                f"{format_date(due_date, 'es')} para evitar un aviso de desconexión. Si no puede "
                "pagar, llámenos para un plan de pagos."
            )
        return (
            f"Your account has a past-due balance of {amount}. Pay it by "
            f"{format_date(due_date, 'en')} to avoid a disconnect notice. If you cannot pay, "
            "call us about a payment arrangement."
        )
    if code == "disconnect_notice":
        return (
            "AVISO: su servicio puede ser desconectado por falta de pago."
            if es
            else "NOTICE: your service may be disconnected for non-payment."
        )
    if code == "rebill":
        number = message.get("replaces", "")
        return (
            f"Esta factura reemplaza la factura {number}, que fue cancelada. Vea los cambios abajo."
            if es
            else f"This bill replaces bill {number}, which was cancelled. See what changed below."
        )
    if code == "first_bill":
        return (
            "Bienvenido. Su primera factura cubre desde el inicio de su servicio."
            if es
            else "Welcome. Your first bill covers the days since your service started."
        )
    if code == "final_bill":
        return (
            "Esta es su factura final. Gracias por ser nuestro cliente."
            if es
            else "This is your final bill. Thank you for being our customer."
        )
    if code == "program":
        name = message.get("name", "")
        return (
            f"Está inscrito en {name}; el descuento aparece en sus cargos."
            if es
            else f"You are enrolled in {name}; its discount is in your charges."
        )
    return str(message.get("text", ""))


def _decimal_text(text: str, places: int | None = None) -> str:
    if not text:
        return ""
    value = Decimal(text)
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places))
    return f"{value.normalize():f}" if places is None else f"{value:,}"


@dataclass(frozen=True)
class Party:
    """Who the bill goes to and where: the caller knows it from the customer records."""

    name: str
    mailing_lines: list[str]
    email: str = ""


def _parties(account_ids: Sequence[int]) -> dict[int, Party]:
    from ohm.customers.models import Account, Email

    accounts = {a.pk: a for a in Account.objects.filter(pk__in=account_ids)}
    names: dict[int, str] = {}
    person_of: dict[int, int] = {}
    for link in (
        AccountPerson.objects.filter(account_id__in=account_ids, role="main", end_date__isnull=True)
        .select_related("person")
        .order_by("account_id", "start_date")
    ):
        names.setdefault(link.account_id, link.person.display_name)
        person_of.setdefault(link.account_id, link.person_id)
    emails: dict[int, str] = {}
    for person_id, address in (
        Email.objects.filter(person_id__in=set(person_of.values()))
        .order_by("-is_primary", "id")
        .values_list("person_id", "address")
    ):
        emails.setdefault(person_id, address)
    return {
        pk: Party(
            names.get(pk, f"Account {account.number}"),
            account.mailing_lines,
            emails.get(person_of.get(pk, -1), ""),
        )
        for pk, account in accounts.items()
    }


def usage_history(
    account_ids: Sequence[int], *, through: date
) -> dict[int, list[tuple[date, int, bool]]]:
    """(period end, Wh, estimated) of each account's latest 13 issued bills up to ``through``."""
    rows: dict[int, dict[int, list]] = defaultdict(dict)
    for account_id, bill_id, end, wh, estimated in (
        BillSegment.objects.filter(
            bill__account_id__in=account_ids,
            bill__status=Bill.Status.ISSUED,
            bill__end_date__lte=through,
            bill__end_date__gt=through - timedelta(days=400),
        )
        .order_by("bill__end_date")
        .values_list(
            "bill__account_id", "bill_id", "bill__end_date", "usage_wh", "bill__is_estimated"
        )
    ):
        entry = rows[account_id].setdefault(bill_id, [end, 0, estimated])
        entry[1] += wh
    return {a: [tuple(v) for v in bills.values()][-13:] for a, bills in rows.items()}  # type: ignore[misc]


def bill_data(
    bill: Bill,
    *,
    party: Party,
    segments: list[BillSegment],
    lines: list[BillLine],
    history: list[tuple[date, int, bool]],
    scan_line: str,
    replaced_lines: list[BillLine] | None = None,
) -> dict:
    """What the Typst template is given: plain strings, amounts formatted."""
    language = bill.language if bill.language in LABELS else "en"
    labels = LABELS[language]
    short = SHORT_MONTHS[language].split()
    by_segment: dict[int | None, list[BillLine]] = defaultdict(list)
    for line in lines:
        by_segment[line.segment_id].append(line)
    peak = max((wh for _, wh, _ in history), default=0)
    messages = [
        message_text(m, language=language, due_date=bill.due_date) for m in bill.messages or []
    ]
    changes = []
    if replaced_lines is not None:
        before: dict[str, int] = defaultdict(int)
        after: dict[str, int] = defaultdict(int)
        for line in replaced_lines:
            before[translate_line(line.description, language)] += line.amount_cents
        for line in lines:
            after[translate_line(line.description, language)] += line.amount_cents
        for name in sorted(set(before) | set(after)):
            if before[name] != after[name]:
                changes.append(
                    {
                        "description": name,
                        "before": format_cents(before[name]),
                        "after": format_cents(after[name]),
                        "change": format_cents(after[name] - before[name]),
                    }
                )
        if not changes:
            changes.append(
                {"description": labels["no_change"], "before": "", "after": "", "change": "$0.00"}
            )
    return {
        "language": language,
        "labels": labels,
        "utility_name": settings.UTILITY_NAME,
        "utility_lines": getattr(
            settings,
            "UTILITY_ADDRESS_LINES",
            ["PO Box 1200", "Port Marisol, CA 94501", "(510) 555-0100"],
        ),
        "account_number": bill.account.number,
        "bill_number": bill.number,
        "customer_name": party.name,
        "mailing_lines": list(party.mailing_lines),
        "bill_date": format_date(bill.bill_date, language),
        "due_date": format_date(bill.due_date, language),
        "period": f"{format_date(bill.start_date, language)} – "
        f"{format_date(bill.end_date - timedelta(days=1), language)}",
        "days": str(bill.days),
        "previous": format_cents(bill.previous_balance_cents),
        "payments": format_cents(bill.payments_cents),
        "adjustments": format_cents(bill.adjustments_cents),
        "new_charges": format_cents(bill.new_charges_cents),
        "total_due": format_cents(bill.total_due_cents),
        "estimated": bill.is_estimated,
        "segments": [
            {
                "address": segment.agreement.service_point.premise.one_line,
                "rate": segment.rate_code,
                "period": f"{format_date(segment.start_date, language)} – "
                f"{format_date(segment.end_date - timedelta(days=1), language)}",
                "days": str(segment.days),
                "usage": f"{segment.usage_wh / 1000:,.0f} kWh"
                + (f" ({labels['estimated']})" if segment.estimated_share >= 0.05 else ""),
                "demand": f"{segment.max_demand_w / 1000:,.1f} kW" if segment.max_demand_w else "",
                "lines": [
                    {
                        "description": translate_line(line.description, language),
                        "quantity": (
                            f"{_decimal_text(line.quantity)} {line.unit}".strip()
                            if line.unit not in ("$", "")
                            else ""
                        ),
                        "price": f"${_decimal_text(line.price)}"
                        if line.unit not in ("$", "")
                        else "",
                        "amount": format_cents(line.amount_cents),
                    }
                    for line in by_segment.get(segment.pk, [])
                ],
            }
            for segment in segments
        ],
        "history": [
            {
                "label": f"{short[(end - timedelta(days=1)).month - 1]} {str((end - timedelta(days=1)).year)[2:]}",
                "kwh": f"{wh / 1000:,.0f}",
                "height": round(wh / peak, 4) if peak else 0,
                "estimated": estimated,
            }
            for end, wh, estimated in history
        ],
        "messages": messages,
        "changes": changes,
        "scan_line": scan_line,
    }


class _Typst:
    """One compiler per process: fonts are loaded and the template parsed once, not per bill."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._compiler: typst.Compiler | None = None

    def render(self, data: dict, *, tagged: bool = True) -> bytes:
        import typst

        with self._lock:
            if self._compiler is None:
                self._compiler = typst.Compiler(
                    TEMPLATES / "bill.typ", root=TEMPLATES, ignore_system_fonts=True
                )
            compiler = self._compiler
            pdf = compiler.compile(
                format="pdf", sys_inputs={"data": json.dumps(data)}, pdf_tags=tagged
            )
        if not isinstance(pdf, bytes):
            raise RuntimeError("typst gave no single PDF for the bill")
        return pdf


_typst = _Typst()

#: Bills per Typst document in ``render_pdfs``: past a few dozen the fixed cost of a compile
#: is spread thin, and a batch's PDF stays small.
BATCH = 50


def render_pdf(data: dict, *, tagged: bool = True) -> bytes:
    """One bill's PDF (tagged for screen readers), or one PDF of ``{"bills": [...]}``."""
    return _typst.render(data, tagged=tagged)


def render_pdfs(documents: Sequence[dict], *, batch: int = BATCH) -> list[bytes]:
    """One PDF per bill, in order, for many bills: each batch is one Typst document, split
    at the bills' first pages. The PDFs are not tagged (a split cannot keep a structure tree);
    ``render_pdf`` gives the tagged PDF of one bill."""
    if batch < 1:
        raise ValueError("a batch holds at least one bill")
    pdfs: list[bytes] = []
    for start in range(0, len(documents), batch):
        chunk = list(documents[start : start + batch])
        whole = _typst.render({"bills": chunk}, tagged=False)
        pdfs.extend(
            split_bills(whole, titles=[f"{d['labels']['bill']} {d['bill_number']}" for d in chunk])
        )
    return pdfs


def split_bills(pdf: bytes, *, titles: Sequence[str]) -> list[bytes]:
    """Split a PDF of many bills into one PDF per bill. Every bill restarts the page labels at
    "1" and numbers its pages 1, 2, ...; anything else (or a count of bills other than
    ``len(titles)``) is an error, never a bill with another customer's pages."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as whole:
        labels = [str(page.label) for page in whole.pages]
        starts = [i for i, label in enumerate(labels) if label == "1"]
        if len(starts) != len(titles) or (starts and starts[0] != 0):
            raise RuntimeError(
                f"the batch PDF has {len(starts)} bills starting on a page labelled 1, "
                f"not {len(titles)}"
            )
        out: list[bytes] = []
        for title, first, end in zip(titles, starts, [*starts[1:], len(labels)], strict=True):
            if labels[first:end] != [str(n) for n in range(1, end - first + 1)]:
                raise RuntimeError(f"the pages of {title} are labelled {labels[first:end]}")
            part = pikepdf.new()
            part.pages.extend(whole.pages[first:end])
            part.docinfo["/Title"] = title
            buffer = io.BytesIO()
            part.save(
                buffer,
                compress_streams=False,  # the pages' streams are compressed already
                object_stream_mode=pikepdf.ObjectStreamMode.generate,
            )
            out.append(buffer.getvalue())
    return out


def documents(bills: Sequence[Bill], *, scan_line: ScanLineBuilder) -> Iterable[tuple[Bill, dict]]:
    """Template data for many bills with a handful of queries (for print files and benchmarks)."""
    bills = list(bills)
    if not bills:
        return
    ids = [b.pk for b in bills]
    account_ids = sorted({b.account_id for b in bills})
    parties = _parties(account_ids)
    segments: dict[int, list[BillSegment]] = defaultdict(list)
    for segment in BillSegment.objects.filter(bill_id__in=ids).select_related(
        "agreement__service_point__premise"
    ):
        segments[segment.bill_id].append(segment)
    lines: dict[int, list[BillLine]] = defaultdict(list, lines_of_bills(ids))
    replaced_ids = [b.replaces_id for b in bills if b.replaces_id]
    replaced: dict[int, list[BillLine]] = defaultdict(list, lines_of_bills(replaced_ids))
    through = max((b.end_date for b in bills), default=date.min)
    history = usage_history(account_ids, through=through)
    for bill in bills:
        past = [h for h in history.get(bill.account_id, []) if h[0] <= bill.end_date]
        if bill.status != Bill.Status.ISSUED or not any(h[0] == bill.end_date for h in past):
            past = [
                *past,
                (bill.end_date, sum(s.usage_wh for s in segments[bill.pk]), bill.is_estimated),
            ]
        yield (
            bill,
            bill_data(
                bill,
                party=parties.get(bill.account_id, Party(bill.account.number, [])),
                segments=segments[bill.pk],
                lines=lines[bill.pk],
                history=past[-13:],
                scan_line=scan_line(
                    account_number=bill.account.number, amount_due_cents=bill.total_due_cents
                ),
                replaced_lines=replaced[bill.replaces_id] if bill.replaces_id else None,
            ),
        )


def bill_pdf(bill: Bill, *, scan_line: ScanLineBuilder) -> bytes:
    ((_, data),) = documents(
        [Bill.objects.select_related("account").get(pk=bill.pk)], scan_line=scan_line
    )
    return render_pdf(data)


# -- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    emailed: int
    printed: int
    print_file: Path | None
    manifest: Path | None


def deliver_bills(
    bills: Sequence[Bill],
    *,
    scan_line: ScanLineBuilder,
    out_dir: Path,
    at: datetime,
    actor,
    portal_url: str = "",
    batch_name: str = "bills",
    email_connection=None,
) -> Delivered:
    """Email paperless customers their bill (PDF attached, with the portal link) and put the
    others into one print file for the print vendor (each bill starts a new page; the foot of
    its last page names the bill), with a CSV manifest (sequence, bill, account, name, address, amount due,
    then the file's SHA-256). Bills already delivered are left out."""
    pending = [
        b
        for b in Bill.objects.filter(pk__in=[b.pk for b in bills], delivered_at__isnull=True)
        .select_related("account")
        .order_by("account__number")
        if b.status == Bill.Status.ISSUED
    ]
    parties = _parties(sorted({b.account_id for b in pending}))
    to_email: list[tuple[Bill, dict, Party]] = []
    to_print: list[dict] = []
    manifest_rows: list[list[str]] = []
    delivered_ids: list[int] = []
    for bill, data in documents(pending, scan_line=scan_line):
        party = parties.get(bill.account_id)
        if bill.delivery == Bill.Delivery.EMAIL and party is not None and party.email:
            to_email.append((bill, data, party))
        else:
            to_print.append(data)
            manifest_rows.append(
                [
                    str(len(to_print)),
                    bill.number,
                    bill.account.number,
                    data["customer_name"],
                    " / ".join(data["mailing_lines"]),
                    data["total_due"],
                ]
            )
        delivered_ids.append(bill.pk)
    # Each e-bill is its own tagged PDF, which screen readers can follow (a bill split from a
    # batch loses its tags); the print vendor's file is the batch path.
    for bill, data, party in to_email:
        pdf = render_pdf(data)
        labels = LABELS[data["language"]]
        body = (
            f"{data['customer_name']},\n\n{labels['total_due']}: {data['total_due']} — "
            f"{labels['due_date']}: {data['due_date']}.\n"
            + (f"\n{portal_url}\n" if portal_url else "")
            + f"\n{settings.UTILITY_NAME}\n"
        )
        message = EmailMessage(
            subject=f"{settings.UTILITY_NAME}: {labels['bill'].lower()} {bill.number}",
            body=body,
            to=[party.email],
            connection=email_connection,
        )
        message.attach(f"bill-{bill.number}.pdf", pdf, "application/pdf")
        message.send()
    emailed = len(to_email)
    printed = len(to_print)
    print_file = manifest = None
    if manifest_rows:
        import csv

        out_dir.mkdir(parents=True, exist_ok=True)
        print_file = out_dir / f"{batch_name}.pdf"
        print_file.write_bytes(render_pdf({"bills": to_print}, tagged=False))
        digest = hashlib.sha256(print_file.read_bytes()).hexdigest()
        manifest = out_dir / f"{batch_name}.manifest.csv"
        with manifest.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["sequence", "bill", "account", "name", "address", "amount_due"])
            out.writerows(manifest_rows)
            out.writerow(["sha256", digest, "", "", "", ""])
    with transaction.atomic():
        Bill.objects.filter(pk__in=delivered_ids).update(delivered_at=at)
        audit.record(
            "billing.bills.delivered",
            subject=None,
            actor=actor,
            at=at,
            after={
                "emailed": emailed,
                "printed": printed,
                "print_file": str(print_file) if print_file else "",
            },
        )
    return Delivered(emailed, printed, print_file, manifest)
