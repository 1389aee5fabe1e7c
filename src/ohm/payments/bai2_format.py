"""BAI2 bank files read into payment items, with the PyPI ``bai2`` package doing the parsing
and checking every control total (account, group and file totals and record counts). Pure:
no Django.

Before the package sees the file, Ohm checks what the package would report badly or not at
all: unknown record codes, a file cut short (no ``99`` trailer), amounts with a decimal
point (BAI2 amounts are whole cents), and it splits physical lines that hold several
records (``…/ 02,…``), a layout some banks send.

Credits (type codes 100–399) are payments; debits (400–699) are counted as skipped. The
item key is the bank's: account, as-of date and bank reference (or, without one, the
customer reference and the record's position in the account), so the same item in a
re-sent file is recognised. The customer reference names the payer's account (a scan line
or an account number); the text is the payer's name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bai2 import bai2 as bai2_parser
from bai2.constants import TypeCodeTransaction
from bai2.exceptions import IntegrityException, NotSupportedYetException, ParsingException

from ohm.payments.lockbox_format import FileItem, FileRefused, ParsedFile

RECORD_CODES = {"01", "02", "03", "16", "49", "88", "98", "99"}
#: Type codes of ACH credits (received ACH, preauthorized and corporate trade payments).
ACH_CREDIT_CODES = {str(code) for code in range(141, 176)}
_SPLIT = re.compile(r"/\s+(?=(?:01|02|03|16|49|88|98|99),)")
_AMOUNT_FIELD = {"16": 2}  # record code → index of its amount field (0 = the code itself)


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(physical line number, record) pairs, several records on one line split apart."""
    records = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parts = _SPLIT.split(line)
        for index, part in enumerate(parts):
            part = part.strip()
            if part:
                # The split took the "/" that ended every record but the last one.
                records.append((number, part + "/" if index < len(parts) - 1 else part))
    return records


def _precheck(records: list[tuple[int, str]]) -> list[str]:
    errors = []
    for number, record in records:
        code = record[:2]
        if code not in RECORD_CODES or record[2:3] not in (",", ""):
            errors.append(
                f"line {number}: “{record[:24]}” does not start with a BAI2 record code and a "
                "comma (01, 02, 03, 16, 49, 88, 98, 99)"
            )
            continue
        index = _AMOUNT_FIELD.get(code)
        if index is not None:
            fields = record.rstrip("/").split(",")
            if len(fields) > index:
                amount = fields[index].strip()
                if "." in amount:
                    errors.append(
                        f"line {number}, amount: “{amount}” has a decimal point; BAI2 amounts "
                        "are whole cents"
                    )
                elif amount and not re.fullmatch(r"[+-]?\d+", amount):
                    errors.append(f"line {number}, amount: “{amount}” is not a number")
    if records and not records[-1][1].startswith("99,"):
        errors.append(
            f"The file ends at line {records[-1][0]} without its 99 file trailer: it was cut short."
        )
    if not records:
        errors.append("The file is empty.")
    return errors


def parse_bai2(text: str, *, currency: str = "USD") -> ParsedFile:
    """Read and check a BAI2 file; its credits become items.

    :raises FileRefused: naming what is wrong (line where Ohm can tell, the control total
        the package found wrong otherwise), or a group in another currency.
    """
    records = _logical_lines(text)
    errors = _precheck(records)
    if errors:
        raise FileRefused(errors)
    try:
        parsed_file = bai2_parser.parse_from_lines(
            [record for _, record in records], check_integrity=True
        )
    except IntegrityException as exc:
        raise FileRefused([f"The control totals do not match: {exc}"]) from exc
    except (ParsingException, NotSupportedYetException, ValueError, StopIteration) as exc:
        raise FileRefused([f"The file is not valid BAI2: {exc or type(exc).__name__}"]) from exc
    parsed = ParsedFile(format="bai2", deposit_date=None)
    # The package keeps no line numbers; its details come in file order, so the n-th detail
    # is the n-th "16" record.
    detail_lines = iter([number for number, record in records if record.startswith("16,")])
    seen: dict[str, str] = {}
    errors = []
    for group_number, group in enumerate(parsed_file.children, start=1):
        header = group.header
        group_currency = (header.currency or "USD").upper()
        as_of = header.as_of_date
        if parsed.deposit_date is None:
            parsed.deposit_date = as_of
        for account in group.children:
            bank_account = (account.header.customer_account_number or "").strip()
            account_currency = (account.header.currency or group_currency).upper()
            for position, detail in enumerate(account.children, start=1):
                line = next(detail_lines, 0)
                cents = int(detail.amount or 0)
                code = detail.type_code.code if detail.type_code else ""
                where = (
                    f"line {line}: group {group_number}, account {bank_account}, detail {position}"
                )
                if detail.type_code is None or detail.type_code.transaction != (
                    TypeCodeTransaction.credit
                ):
                    parsed.skipped.append(
                        (position, cents, f"{where}: type {code} is not a credit")
                    )
                    continue
                if account_currency != currency:
                    errors.append(
                        f"{where}: a credit in {account_currency}; this utility takes {currency}"
                    )
                    continue
                if cents <= 0:
                    parsed.skipped.append((line, cents, f"{where}: a credit of zero"))
                    continue
                bank_ref = (detail.bank_reference or "").strip()
                customer_ref = (detail.customer_reference or "").strip()
                identity = bank_ref or f"{customer_ref}#{position}"
                key = f"bai2:{bank_account}:{as_of:%Y%m%d}:{code}:{identity}"
                if key in seen:
                    errors.append(
                        f"{where}: the same item as {seen[key]} (bank reference {bank_ref})"
                    )
                    continue
                seen[key] = where
                digits = re.sub(r"[\s\-]", "", customer_ref)
                parsed.items.append(
                    FileItem(
                        line=line,
                        key=key[:150],
                        amount_cents=cents,
                        tender="ach" if code in ACH_CREDIT_CODES else "check",
                        reference=(bank_ref or customer_ref)[:80],
                        scan_line=digits if len(digits) == 21 else "",
                        account_number=digits if len(digits) == 10 else "",
                        payer_name=" ".join((detail.text or "").split())[:120],
                    )
                )
    if errors:
        raise FileRefused(errors)
    parsed.file_item_count = len(parsed.items)
    parsed.file_total_cents = sum(item.amount_cents for item in parsed.items)
    return parsed


def write_bai2(
    *,
    sender: str,
    receiver: str,
    bank_account: str,
    as_of: str,
    items: Iterable[dict],
) -> str:
    """A one-group, one-account BAI2 file of lockbox credits (type 115), with correct
    control totals; each item dict has amount_cents, bank_reference, customer_reference and
    text. ``as_of`` is YYMMDD. For tests, the demo and the benchmark."""
    details = []
    total = 0
    for item in items:
        total += item["amount_cents"]
        details.append(
            f"16,115,{item['amount_cents']},Z,{item.get('bank_reference', '')},"
            f"{item.get('customer_reference', '')},{item.get('text', '')}/"
        )
    account_records = 2 + len(details)
    lines = [
        f"01,{sender},{receiver},{as_of},0800,1,,,2/",
        f"02,{receiver},{sender},1,{as_of},2400,USD,2/",
        f"03,{bank_account},USD/",
        *details,
        f"49,{total},{account_records}/",
        f"98,{total},1,{account_records + 2}/",
        f"99,{total},1,{account_records + 4}/",
    ]
    return "\n".join(lines) + "\n"
