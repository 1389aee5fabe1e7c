"""NACHA ACH files: build them and parse them, checking every rule a bank checks.

A NACHA file is lines ("records") of exactly 94 characters:

    1  file header        one, first
    5  batch header       opens a batch (one company, one SEC code, one effective date)
    6  entry detail       one debit or credit (or prenote) to one bank account
    7  addenda            05 remittance text; 98 notification of change; 99 return
    8  batch control      counts, entry hash and totals of its batch
    9  file control       counts, entry hash and totals of the file
    9999…                 block filler: the record count is padded to a multiple of ten

The entry hash is the sum of the eight-digit receiving DFI ids (routing numbers without
their check digit), keeping only the rightmost ten digits. Amounts are integer cents.

Pure: no Django here. The parser reports the first defect as a ``NachaError`` naming the
line (1-based), the field and the value; it never returns a half-checked file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache

RECORD_LENGTH = 94
BLOCKING_FACTOR = 10
FILLER = "9" * RECORD_LENGTH
HASH_MODULUS = 10**10

#: Transaction codes: (account type, direction, kind). Second digit 1–4 credits, 6–9 debits.
TRANSACTION_CODES: dict[int, tuple[str, str, str]] = {
    21: ("checking", "credit", "return"),
    22: ("checking", "credit", "live"),
    23: ("checking", "credit", "prenote"),
    24: ("checking", "credit", "zero"),
    26: ("checking", "debit", "return"),
    27: ("checking", "debit", "live"),
    28: ("checking", "debit", "prenote"),
    29: ("checking", "debit", "zero"),
    31: ("savings", "credit", "return"),
    32: ("savings", "credit", "live"),
    33: ("savings", "credit", "prenote"),
    34: ("savings", "credit", "zero"),
    36: ("savings", "debit", "return"),
    37: ("savings", "debit", "live"),
    38: ("savings", "debit", "prenote"),
    39: ("savings", "debit", "zero"),
    41: ("general_ledger", "credit", "return"),
    42: ("general_ledger", "credit", "live"),
    43: ("general_ledger", "credit", "prenote"),
    44: ("general_ledger", "credit", "zero"),
    46: ("general_ledger", "debit", "return"),
    47: ("general_ledger", "debit", "live"),
    48: ("general_ledger", "debit", "prenote"),
    49: ("general_ledger", "debit", "zero"),
    51: ("loan", "credit", "return"),
    52: ("loan", "credit", "live"),
    53: ("loan", "credit", "prenote"),
    54: ("loan", "credit", "zero"),
    55: ("loan", "debit", "live"),
    56: ("loan", "debit", "return"),
}

#: The codes Ohm writes: autopay debits, their prenotes, refund credits and theirs.
DEBIT = {"checking": 27, "savings": 37}
DEBIT_PRENOTE = {"checking": 28, "savings": 38}
CREDIT = {"checking": 22, "savings": 32}
CREDIT_PRENOTE = {"checking": 23, "savings": 33}

SERVICE_CLASSES = {200: "mixed", 220: "credits", 225: "debits"}

#: SEC codes this parser reads. ADV, SHR, MTE and the other card and network codes lay out
#: their entries differently; a file with them is refused by name rather than misread.
SEC_CODES = {"PPD", "CCD", "CTX", "WEB", "TEL", "COR", "IAT", "RCK", "ARC", "BOC", "POP", "POS"}
DEBIT_ONLY_SEC = {"TEL", "RCK", "ARC", "BOC", "POP"}
OTHER_SEC_CODES = {"ADV", "SHR", "MTE", "ENR", "DNE", "TRC", "TRX", "XCK", "CIE", "ACK", "ATX"}

RETURN_CODES: dict[str, str] = {
    "R01": "Insufficient funds",
    "R02": "Account closed",
    "R03": "No account / unable to locate account",
    "R04": "Invalid account number structure",
    "R05": "Unauthorized debit to consumer account using corporate SEC code",
    "R06": "Returned per ODFI's request",
    "R07": "Authorization revoked by customer",
    "R08": "Payment stopped",
    "R09": "Uncollected funds",
    "R10": "Customer advises originator is not known or not authorized",
    "R11": "Customer advises entry not in accordance with the terms of the authorization",
    "R12": "Account sold to another DFI",
    "R13": "Invalid ACH routing number",
    "R14": "Representative payee deceased or unable to continue",
    "R15": "Beneficiary or account holder deceased",
    "R16": "Account frozen / entry returned per OFAC instruction",
    "R17": "File record edit criteria / questionable entry",
    "R18": "Improper effective entry date",
    "R19": "Amount field error",
    "R20": "Non-transaction account",
    "R21": "Invalid company identification",
    "R22": "Invalid individual ID number",
    "R23": "Credit entry refused by receiver",
    "R24": "Duplicate entry",
    "R25": "Addenda error",
    "R26": "Mandatory field error",
    "R27": "Trace number error",
    "R28": "Routing number check digit error",
    "R29": "Corporate customer advises not authorized",
    "R30": "RDFI not participant in check truncation program",
    "R31": "Permissible return entry (CCD and CTX only)",
    "R32": "RDFI non-settlement",
    "R33": "Return of XCK entry",
    "R34": "Limited participation DFI",
    "R35": "Return of improper debit entry",
    "R36": "Return of improper credit entry",
    "R37": "Source document presented for payment",
    "R38": "Stop payment on source document",
    "R39": "Improper source document / source document presented for payment",
    "R40": "Return of ENR entry by federal government agency",
    "R41": "Invalid transaction code (ENR)",
    "R42": "Routing number / check digit error (ENR)",
    "R43": "Invalid DFI account number (ENR)",
    "R44": "Invalid individual ID number (ENR)",
    "R45": "Invalid individual name / company name (ENR)",
    "R46": "Invalid representative payee indicator (ENR)",
    "R47": "Duplicate enrollment (ENR)",
    "R50": "State law affecting RCK acceptance",
    "R51": "Item related to RCK entry is ineligible or RCK entry is improper",
    "R52": "Stop payment on item related to RCK entry",
    "R53": "Item and RCK entry presented for payment",
    "R61": "Misrouted return",
    "R62": "Return of erroneous or reversing debit",
    "R67": "Duplicate return",
    "R68": "Untimely return",
    "R69": "Field error(s)",
    "R70": "Permissible return entry not accepted / return not requested by ODFI",
    "R71": "Misrouted dishonored return",
    "R72": "Untimely dishonored return",
    "R73": "Timely original return",
    "R74": "Corrected return",
    "R75": "Return not a duplicate",
    "R76": "No errors found",
    "R77": "Non-acceptance of R62 dishonored return",
    "R80": "IAT entry coding error",
    "R81": "Non-participant in IAT program",
    "R82": "Invalid foreign receiving DFI identification",
    "R83": "Foreign receiving DFI unable to settle",
    "R84": "Entry not processed by gateway",
    "R85": "Incorrectly coded outbound international payment",
}

CHANGE_CODES: dict[str, str] = {
    "C01": "Incorrect DFI account number",
    "C02": "Incorrect routing number",
    "C03": "Incorrect routing number and incorrect DFI account number",
    "C04": "Incorrect individual name / receiving company name",
    "C05": "Incorrect transaction code",
    "C06": "Incorrect DFI account number and incorrect transaction code",
    "C07": "Incorrect routing number, DFI account number and transaction code",
    "C08": "Incorrect receiving DFI identification (IAT)",
    "C09": "Incorrect individual identification number",
    "C13": "Addenda format error",
    "C14": "Incorrect SEC code for outbound international payment",
    "C61": "Misrouted notification of change",
    "C62": "Incorrect trace number",
    "C63": "Incorrect company identification number",
    "C64": "Incorrect individual identification number",
    "C65": "Incorrectly formatted corrected data",
    "C66": "Incorrect discretionary data",
    "C67": "Routing number not from original entry detail record",
    "C68": "DFI account number not from original entry detail record",
    "C69": "Incorrect transaction code",
}

#: IAT Addenda 10 transaction type codes.
IAT_TRANSACTION_TYPES = {
    "ANN", "BUS", "DEP", "LOA", "MIS", "MOR", "PEN", "REM", "RLS", "SAL", "TAX",
    "ARC", "BOC", "CCD", "MTE", "POP", "POS", "PPD", "RCK", "TEL", "WEB",
}  # fmt: skip

_FILE_ID_MODIFIER = re.compile(r"[A-Z0-9]")


class NachaError(ValueError):
    """A file breaks a rule. ``line`` is 1-based (0: the file as a whole)."""

    def __init__(self, message: str, *, line: int = 0, field: str = "", value: str = ""):
        self.line, self.field, self.value, self.reason = line, field, value, message
        where = f"line {line}" if line else "file"
        if field:
            where += f", {field}"
        shown = f" “{value}”" if value != "" else ""
        super().__init__(f"{where}:{shown} {message}")


# Routing numbers -------------------------------------------------------------------------

_ABA_WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7)


def routing_check_digit(first_eight: str) -> int:
    """The ABA check digit of an eight-digit DFI id (weights 3, 7, 1 repeating, mod 10)."""
    if len(first_eight) != 8 or not first_eight.isdigit():
        raise ValueError(f"{first_eight!r} is not eight digits")
    total = sum(int(d) * w for d, w in zip(first_eight, _ABA_WEIGHTS, strict=True))
    return (10 - total % 10) % 10


@cache
def is_valid_routing(routing: str) -> bool:
    """Nine digits whose last is the check digit of the first eight."""
    return (
        len(routing) == 9
        and routing.isdigit()
        and routing_check_digit(routing[:8]) == int(routing[8])
    )


# The file as data ------------------------------------------------------------------------


@dataclass(frozen=True)
class FileHeader:
    immediate_destination: str  # nine-digit routing number of the receiving point (bank)
    immediate_origin: str  # ten characters: the originator's id (often "1" + EIN) or routing
    creation_date: date
    creation_time: str = "0000"  # HHMM
    file_id_modifier: str = "A"
    destination_name: str = ""
    origin_name: str = ""
    reference_code: str = ""


@dataclass(frozen=True)
class Addenda:
    """Type 05: free remittance text."""

    payment_info: str
    sequence: int = 1
    entry_sequence: str = ""  # last seven digits of the entry's trace number
    type_code: str = "05"


@dataclass(frozen=True)
class ReturnAddenda:
    """Type 99: the receiving bank sends an entry back."""

    return_code: str
    original_trace: str
    original_rdfi: str
    trace_number: str
    date_of_death: str = ""
    info: str = ""
    type_code: str = "99"

    @property
    def description(self) -> str:
        return RETURN_CODES.get(self.return_code, "")


@dataclass(frozen=True)
class ChangeAddenda:
    """Type 98: a notification of change (NOC) — the entry went through, but fix the details."""

    change_code: str
    original_trace: str
    original_rdfi: str
    corrected_data: str
    trace_number: str
    type_code: str = "98"

    @property
    def description(self) -> str:
        return CHANGE_CODES.get(self.change_code, "")

    @property
    def corrections(self) -> dict[str, str]:
        """The corrected routing / account / transaction code / name, by change code."""
        data = self.corrected_data
        code = self.change_code
        if code == "C01":
            return {"account_number": data[:17].strip()}
        if code == "C02":
            return {"routing_number": data[:9].strip()}
        if code == "C03":
            return {"routing_number": data[:9].strip(), "account_number": data[12:29].strip()}
        if code == "C04":
            return {"name": data[:22].strip()}
        if code == "C05":
            return {"transaction_code": data[:2].strip()}
        if code == "C06":
            return {"account_number": data[:17].strip(), "transaction_code": data[20:22].strip()}
        if code == "C07":
            return {
                "routing_number": data[:9].strip(),
                "account_number": data[9:26].strip(),
                "transaction_code": data[26:28].strip(),
            }
        if code == "C09":
            return {"individual_id": data[:22].strip()}
        return {}


AnyAddenda = Addenda | ReturnAddenda | ChangeAddenda


@dataclass(frozen=True)
class Entry:
    transaction_code: int
    routing_number: str  # nine digits, check digit included
    account_number: str
    amount_cents: int
    individual_id: str
    individual_name: str
    trace_number: str  # fifteen digits: the ODFI's eight, then a sequence of seven
    discretionary_data: str = ""
    addenda: tuple[AnyAddenda, ...] = ()

    @property
    def direction(self) -> str:
        return TRANSACTION_CODES[self.transaction_code][1]

    @property
    def account_type(self) -> str:
        return TRANSACTION_CODES[self.transaction_code][0]

    @property
    def is_prenote(self) -> bool:
        return TRANSACTION_CODES[self.transaction_code][2] == "prenote"

    @property
    def return_addenda(self) -> ReturnAddenda | None:
        return next((a for a in self.addenda if isinstance(a, ReturnAddenda)), None)

    @property
    def change_addenda(self) -> ChangeAddenda | None:
        return next((a for a in self.addenda if isinstance(a, ChangeAddenda)), None)


@dataclass(frozen=True)
class Batch:
    company_name: str
    company_id: str
    sec_code: str
    description: str
    effective_date: date | None
    odfi: str  # the originating bank's eight-digit DFI id
    batch_number: int
    entries: tuple[Entry, ...] = ()
    service_class: int = 200
    discretionary_data: str = ""
    descriptive_date: str = ""
    settlement_date: str = ""
    originator_status: str = "1"

    @property
    def debit_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries if e.direction == "debit")

    @property
    def credit_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries if e.direction == "credit")

    @property
    def entry_addenda_count(self) -> int:
        return len(self.entries) + sum(len(e.addenda) for e in self.entries)

    @property
    def entry_hash(self) -> int:
        return sum(int(e.routing_number[:8]) for e in self.entries) % HASH_MODULUS


@dataclass(frozen=True)
class NachaFile:
    header: FileHeader
    batches: tuple[Batch, ...] = ()
    #: Blocks of ten records (file control's block count).
    block_count: int = 0

    @property
    def entries(self) -> list[Entry]:
        return [e for b in self.batches for e in b.entries]

    @property
    def debit_cents(self) -> int:
        return sum(b.debit_cents for b in self.batches)

    @property
    def credit_cents(self) -> int:
        return sum(b.credit_cents for b in self.batches)

    @property
    def entry_addenda_count(self) -> int:
        return sum(b.entry_addenda_count for b in self.batches)

    @property
    def entry_hash(self) -> int:
        return sum(b.entry_hash for b in self.batches) % HASH_MODULUS


def trace_number(odfi: str, sequence: int) -> str:
    """The fifteen-digit trace number of the ``sequence``-th entry an ODFI sends."""
    if len(odfi) != 8 or not odfi.isdigit():
        raise ValueError(f"ODFI {odfi!r} is not eight digits")
    if not 0 < sequence < 10_000_000:
        raise ValueError(f"trace sequence {sequence} is not 1..9999999")
    return f"{odfi}{sequence:07d}"


# Building -------------------------------------------------------------------------------

_ALLOWED = re.compile(r"[^ -~]")


def _alpha(value: str, width: int) -> str:
    """Alphanumeric field: printable ASCII, upper case, left-justified, cut to width."""
    text = value.upper()
    if not (text.isascii() and text.isprintable()):
        text = _ALLOWED.sub(" ", text)
    return text[:width].ljust(width)


def _num(value: int, width: int, name: str) -> str:
    if value < 0 or value >= 10**width:
        raise ValueError(f"{name} {value} does not fit {width} digits")
    return f"{value:0{width}d}"


def _yymmdd(value: date | None) -> str:
    return value.strftime("%y%m%d") if value is not None else "      "


def _check_entry(entry: Entry) -> None:
    if entry.transaction_code not in TRANSACTION_CODES:
        raise ValueError(f"transaction code {entry.transaction_code} is not a NACHA code")
    if not is_valid_routing(entry.routing_number):
        raise ValueError(f"routing number {entry.routing_number!r} fails the ABA check digit")
    if not entry.account_number or len(entry.account_number) > 17:
        raise ValueError("a DFI account number is 1 to 17 characters")
    if entry.is_prenote and entry.amount_cents != 0:
        raise ValueError("a prenote carries no amount")
    if len(entry.trace_number) != 15 or not entry.trace_number.isdigit():
        raise ValueError(f"trace number {entry.trace_number!r} is not fifteen digits")


def _entry_record(entry: Entry) -> str:
    return (
        f"6{entry.transaction_code:02d}{entry.routing_number}"
        f"{_alpha(entry.account_number, 17)}{_num(entry.amount_cents, 10, 'amount')}"
        f"{_alpha(entry.individual_id, 15)}{_alpha(entry.individual_name, 22)}"
        f"{_alpha(entry.discretionary_data, 2)}{'1' if entry.addenda else '0'}"
        f"{entry.trace_number}"
    )


def _addenda_record(addenda: AnyAddenda, entry: Entry) -> str:
    if isinstance(addenda, ReturnAddenda):
        return (
            f"799{addenda.return_code}{addenda.original_trace:0>15}"
            f"{_alpha(addenda.date_of_death, 6)}{addenda.original_rdfi:0>8}"
            f"{_alpha(addenda.info, 44)}{addenda.trace_number}"
        )
    if isinstance(addenda, ChangeAddenda):
        return (
            f"798{addenda.change_code}{addenda.original_trace:0>15}{' ' * 6}"
            f"{addenda.original_rdfi:0>8}{_alpha(addenda.corrected_data, 29)}{' ' * 15}"
            f"{addenda.trace_number}"
        )
    return (
        f"705{_alpha(addenda.payment_info, 80)}{_num(addenda.sequence, 4, 'addenda sequence')}"
        f"{entry.trace_number[-7:]}"
    )


def _batch_records(batch: Batch) -> list[str]:
    if batch.service_class not in SERVICE_CLASSES:
        raise ValueError(f"service class {batch.service_class} is not 200, 220 or 225")
    if len(batch.odfi) != 8 or not batch.odfi.isdigit():
        raise ValueError(f"ODFI {batch.odfi!r} is not eight digits")
    if not batch.entries:
        raise ValueError(f"batch {batch.batch_number} has no entries")
    company_id = _alpha(batch.company_id, 10)
    number = _num(batch.batch_number, 7, "batch number")
    records = [
        f"5{batch.service_class}{_alpha(batch.company_name, 16)}"
        f"{_alpha(batch.discretionary_data, 20)}{company_id}{_alpha(batch.sec_code, 3)}"
        f"{_alpha(batch.description, 10)}{_alpha(batch.descriptive_date, 6)}"
        f"{_yymmdd(batch.effective_date)}{_alpha(batch.settlement_date, 3)}"
        f"{batch.originator_status}{batch.odfi}{number}"
    ]
    debits = credits = count = hash_total = 0
    previous_trace = ""
    for entry in batch.entries:
        _check_entry(entry)
        if entry.trace_number <= previous_trace:
            raise ValueError(f"trace numbers must ascend in a batch: {entry.trace_number}")
        previous_trace = entry.trace_number
        direction = TRANSACTION_CODES[entry.transaction_code][1]
        if batch.service_class == 220 and direction == "debit":
            raise ValueError(f"a credits-only batch cannot carry debit {entry.trace_number}")
        if batch.service_class == 225 and direction == "credit":
            raise ValueError(f"a debits-only batch cannot carry credit {entry.trace_number}")
        if direction == "debit":
            debits += entry.amount_cents
        else:
            credits += entry.amount_cents
        hash_total += int(entry.routing_number[:8])
        count += 1 + len(entry.addenda)
        records.append(_entry_record(entry))
        records.extend(_addenda_record(a, entry) for a in entry.addenda)
    records.append(
        f"8{batch.service_class}{_num(count, 6, 'entry/addenda count')}"
        f"{hash_total % HASH_MODULUS:010d}{_num(debits, 12, 'total debits')}"
        f"{_num(credits, 12, 'total credits')}{company_id}{' ' * 19}{' ' * 6}"
        f"{batch.odfi}{number}"
    )
    return records


def build_records(nacha_file: NachaFile) -> list[str]:
    """Every record of the file, controls computed, padded with filler to blocks of ten."""
    header = nacha_file.header
    if not is_valid_routing(header.immediate_destination):
        raise ValueError(
            f"immediate destination {header.immediate_destination!r} is not a routing number"
        )
    origin = header.immediate_origin
    if not origin.strip().isdigit() or len(origin.strip()) not in (9, 10):
        raise ValueError(f"immediate origin {origin!r} is not nine or ten digits")
    if not _FILE_ID_MODIFIER.fullmatch(header.file_id_modifier):
        raise ValueError(f"file id modifier {header.file_id_modifier!r} is not A–Z or 0–9")
    records = [
        f"101 {header.immediate_destination}{origin.strip():>10}"
        f"{_yymmdd(header.creation_date)}{header.creation_time:0>4}{header.file_id_modifier}"
        f"094101{_alpha(header.destination_name, 23)}{_alpha(header.origin_name, 23)}"
        f"{_alpha(header.reference_code, 8)}"
    ]
    debits = credits = count = hash_total = 0
    numbers = [b.batch_number for b in nacha_file.batches]
    if numbers != sorted(set(numbers)):
        raise ValueError("batch numbers must ascend without repeats")
    for batch in nacha_file.batches:
        records.extend(_batch_records(batch))
        control = records[-1]
        count += int(control[4:10])
        hash_total += int(control[10:20])
        debits += int(control[20:32])
        credits += int(control[32:44])
    total_records = len(records) + 1
    blocks = -(-total_records // BLOCKING_FACTOR)
    records.append(
        f"9{_num(len(nacha_file.batches), 6, 'batch count')}{_num(blocks, 6, 'block count')}"
        f"{_num(count, 8, 'entry/addenda count')}{hash_total % HASH_MODULUS:010d}"
        f"{_num(debits, 12, 'total debits')}{_num(credits, 12, 'total credits')}{' ' * 39}"
    )
    records.extend([FILLER] * (blocks * BLOCKING_FACTOR - total_records))
    return records


def build_file(nacha_file: NachaFile) -> str:
    """The file's text: records joined by newlines, a newline at the end."""
    return "\n".join(build_records(nacha_file)) + "\n"


def build_ach_file(
    *,
    header: FileHeader,
    company_name: str,
    company_id: str,
    odfi: str,
    effective_date: date,
    debits: Iterable[Entry] = (),
    credits: Iterable[Entry] = (),
    prenotes: Iterable[Entry] = (),
    debit_description: str = "AUTOPAY",
    credit_description: str = "REFUND",
    prenote_description: str = "PRENOTE",
    first_batch_number: int = 1,
) -> str:
    """A PPD file as Ohm sends it: one debits-only batch (autopay), one credits-only batch
    (refunds) and one mixed batch of prenotes, each present only if it has entries."""
    specs = [
        (225, debit_description, tuple(debits)),
        (220, credit_description, tuple(credits)),
        (200, prenote_description, tuple(prenotes)),
    ]
    batches = []
    number = first_batch_number
    for service_class, description, entries in specs:
        if not entries:
            continue
        batches.append(
            Batch(
                company_name=company_name,
                company_id=company_id,
                sec_code="PPD",
                description=description,
                effective_date=effective_date,
                odfi=odfi,
                batch_number=number,
                entries=entries,
                service_class=service_class,
            )
        )
        number += 1
    return build_file(NachaFile(header=header, batches=tuple(batches)))


# Parsing ---------------------------------------------------------------------------------


def _lines(data: bytes | str) -> list[tuple[int, str]]:
    """(line number, record) pairs: ASCII only, CR/LF tolerated, blank lines skipped,
    trailing spaces that a transfer trimmed put back, and files without line breaks cut
    into 94-character records."""
    if isinstance(data, bytes):
        for index, byte in enumerate(data):
            if byte > 0x7E:
                line_number = data.count(b"\n", 0, index) + 1
                raise NachaError(
                    "is not a printable ASCII character: NACHA files are plain ASCII",
                    line=line_number,
                    field="character",
                    value=f"0x{byte:02X}",
                )
        text = data.decode("ascii")
    else:
        text = data
    raw = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if len([r for r in raw if r.strip()]) == 1 and len(raw[0]) > RECORD_LENGTH:
        # No line breaks: the records sit end to end.
        blob = raw[0]
        pieces = [blob[i : i + RECORD_LENGTH] for i in range(0, len(blob), RECORD_LENGTH)]
        if len(pieces[-1]) != RECORD_LENGTH:
            raise NachaError(
                f"must be {RECORD_LENGTH} characters and found {len(pieces[-1])} "
                "(a file without line breaks must be a whole number of records)",
                line=len(pieces),
                field="record length",
                value=pieces[-1],
            )
        out: list[tuple[int, str]] = list(enumerate(pieces, start=1))
    else:
        out = []
        for number, line in enumerate(raw, start=1):
            if not line.strip():
                continue
            if len(line) > RECORD_LENGTH:
                if line[RECORD_LENGTH:].strip():
                    raise NachaError(
                        f"must be {RECORD_LENGTH} characters and found {len(line)}",
                        line=number,
                        field="record length",
                        value=line[RECORD_LENGTH:],
                    )
                line = line[:RECORD_LENGTH]
            out.append((number, line.ljust(RECORD_LENGTH)))
    for number, record in out:
        bad = re.search(r"[^ -~]", record)
        if bad:
            raise NachaError(
                "is not a printable character",
                line=number,
                field=f"position {bad.start() + 1}",
                value=f"0x{ord(bad.group()):02X}",
            )
    return out


class _Record:
    """One record's fields by 1-based inclusive positions, as the NACHA rules number them."""

    def __init__(self, line: int, text: str, name: str):
        self.line, self.text, self.name = line, text, name

    def raw(self, start: int, end: int) -> str:
        return self.text[start - 1 : end]

    def error(self, field_name: str, start: int, end: int, message: str) -> NachaError:
        return NachaError(
            message, line=self.line, field=f"{self.name} {field_name}", value=self.raw(start, end)
        )

    def alpha(self, start: int, end: int) -> str:
        return self.raw(start, end).strip()

    def num(self, field_name: str, start: int, end: int, *, blank_ok: bool = False) -> int:
        value = self.raw(start, end)
        if blank_ok and not value.strip():
            return 0
        if not value.isdigit():
            raise self.error(field_name, start, end, "must be digits")
        return int(value)

    def digits(self, field_name: str, start: int, end: int) -> str:
        value = self.raw(start, end)
        if not value.isdigit():
            raise self.error(field_name, start, end, "must be digits")
        return value

    def const(self, field_name: str, start: int, end: int, expected: str) -> None:
        if self.raw(start, end) != expected:
            raise self.error(field_name, start, end, f"must be “{expected}”")

    def yymmdd(
        self, field_name: str, start: int, end: int, *, blank_ok: bool = False
    ) -> date | None:
        value = self.raw(start, end)
        if blank_ok and (not value.strip() or value == "000000"):
            return None
        try:
            if not value.isdigit():
                raise ValueError(value)
            return date(2000 + int(value[:2]), int(value[2:4]), int(value[4:6]))
        except ValueError:
            raise self.error(field_name, start, end, "is not a date (YYMMDD)") from None


def _file_header(rec: _Record) -> FileHeader:
    rec.const("priority code", 2, 3, "01")
    destination = rec.raw(4, 13)
    if destination[0] != " " or not destination[1:].isdigit():
        raise rec.error(
            "immediate destination", 4, 13, "must be a blank and a nine-digit routing number"
        )
    if not is_valid_routing(destination[1:]):
        raise rec.error("immediate destination", 4, 13, "routing number checksum mismatch")
    origin = rec.raw(14, 23)
    if not origin.strip().isdigit() or len(origin.strip()) < 9:
        raise rec.error("immediate origin", 14, 23, "must be nine or ten digits")
    created = rec.yymmdd("file creation date", 24, 29)
    time_text = rec.raw(30, 33)
    if time_text.strip() and not re.fullmatch(r"([01]\d|2[0-3])[0-5]\d", time_text):
        raise rec.error("file creation time", 30, 33, "is not a time (HHMM)")
    modifier = rec.raw(34, 34)
    if not _FILE_ID_MODIFIER.fullmatch(modifier):
        raise rec.error("file id modifier", 34, 34, "must be A–Z or 0–9")
    rec.const("record size", 35, 37, "094")
    rec.const("blocking factor", 38, 39, "10")
    rec.const("format code", 40, 40, "1")
    assert created is not None
    return FileHeader(
        immediate_destination=destination[1:],
        immediate_origin=origin.strip(),
        creation_date=created,
        creation_time=time_text.strip() or "0000",
        file_id_modifier=modifier,
        destination_name=rec.alpha(41, 63),
        origin_name=rec.alpha(64, 86),
        reference_code=rec.alpha(87, 94),
    )


@dataclass
class _OpenBatch:
    line: int
    header: dict
    entries: list = field(default_factory=list)
    addenda: list = field(default_factory=list)  # addenda of the entry being read
    entry: dict | None = None


def _batch_header(rec: _Record) -> dict:
    service_class = rec.num("service class code", 2, 4)
    if service_class not in SERVICE_CLASSES:
        raise rec.error(
            "service class code", 2, 4, "is not a valid service class code (200, 220, 225)"
        )
    sec = rec.raw(51, 53)
    if sec in OTHER_SEC_CODES:
        raise rec.error("standard entry class code", 51, 53, "is a SEC code Ohm does not read")
    if sec not in SEC_CODES:
        raise rec.error(
            "standard entry class code", 51, 53, "is not a valid standard entry class code"
        )
    odfi = rec.digits("originating DFI id", 80, 87)
    # Returns and notifications of change may leave the effective date blank or zero.
    effective = rec.yymmdd("effective entry date", 70, 75, blank_ok=True)
    company_name, company_id, discretionary = rec.alpha(5, 20), rec.alpha(41, 50), rec.alpha(21, 40)
    if not company_id:
        raise rec.error("company identification", 41, 50, "is mandatory")
    settlement = rec.raw(76, 78)
    if settlement.strip() and not settlement.isdigit():
        raise rec.error("settlement date", 76, 78, "must be a Julian day (digits) or blank")
    # An IAT notification of change is a COR batch laid out as IAT ("IATCOR" in 5–20).
    layout = "IAT" if sec == "IAT" or rec.raw(5, 10) == "IATCOR" else sec
    return {
        "line": rec.line,
        "layout": layout,
        "service_class": service_class,
        "company_name": company_name,
        "discretionary_data": discretionary,
        "company_id": company_id,
        "sec_code": sec,
        "description": rec.alpha(54, 63),
        "descriptive_date": rec.alpha(64, 69),
        "effective_date": effective,
        "settlement_date": settlement.strip(),
        "originator_status": rec.raw(79, 79),
        "odfi": odfi,
        "batch_number": rec.num("batch number", 88, 94),
    }


def _entry(rec: _Record, header: dict) -> dict:
    code = rec.num("transaction code", 2, 3)
    if code not in TRANSACTION_CODES:
        raise rec.error("transaction code", 2, 3, "is not a valid transaction code")
    kind = TRANSACTION_CODES[code]
    service_class, sec = header["service_class"], header["sec_code"]
    if service_class == 220 and kind[1] == "debit":
        raise rec.error("transaction code", 2, 3, "is a debit in a credits-only (220) batch")
    if service_class == 225 and kind[1] == "credit":
        raise rec.error("transaction code", 2, 3, "is a credit in a debits-only (225) batch")
    if sec in DEBIT_ONLY_SEC and kind[1] == "credit" and kind[2] != "return":
        raise rec.error(
            "transaction code",
            2,
            3,
            f"this batch type ({sec}) does not allow credit transaction codes",
        )
    rdfi = rec.digits("receiving DFI id", 4, 11)
    check = rec.digits("check digit", 12, 12)
    if routing_check_digit(rdfi) != int(check):
        raise rec.error(
            "check digit",
            4,
            12,
            f"is not the routing number's check digit (expected {routing_check_digit(rdfi)})",
        )
    amount = rec.num("amount", 30, 39)
    if kind[2] in ("prenote", "zero") and amount != 0:
        raise rec.error("amount", 30, 39, "must be zero for a prenote or zero-dollar entry")
    if header["layout"] == "IAT":
        account = rec.alpha(40, 74)
        individual_id, name, discretionary = "", "", ""
    else:
        account = rec.alpha(13, 29)
        individual_id, name, discretionary = rec.alpha(40, 54), rec.alpha(55, 76), rec.alpha(77, 78)
    if not account:
        raise rec.error("DFI account number", 13, 29, "is mandatory")
    indicator = rec.raw(79, 79)
    if indicator not in ("0", "1"):
        raise rec.error("addenda record indicator", 79, 79, "is invalid: it must be 0 or 1")
    return {
        "line": rec.line,
        "transaction_code": code,
        "routing_number": rdfi + check,
        "account_number": account,
        "amount_cents": amount,
        "individual_id": individual_id,
        "individual_name": name,
        "discretionary_data": discretionary,
        "indicator": indicator,
        "trace_number": rec.digits("trace number", 80, 94),
    }


def _addenda(rec: _Record, entry: dict, sec: str, count: int) -> AnyAddenda | None:
    type_code = rec.raw(2, 3)
    if type_code == "99":
        code = rec.raw(4, 6)
        if code not in RETURN_CODES:
            raise rec.error("return reason code", 4, 6, "is not a valid return code")
        return ReturnAddenda(
            return_code=code,
            original_trace=rec.digits("original entry trace number", 7, 21),
            date_of_death=rec.alpha(22, 27),
            original_rdfi=rec.digits("original receiving DFI id", 28, 35),
            info=rec.alpha(36, 79),
            trace_number=rec.digits("trace number", 80, 94),
        )
    if type_code == "98":
        code = rec.raw(4, 6)
        if code not in CHANGE_CODES:
            raise rec.error("change code", 4, 6, "is not a valid addenda change code")
        corrected = rec.raw(36, 64)
        if not corrected.strip():
            raise rec.error("corrected data", 36, 64, "is mandatory in a notification of change")
        return ChangeAddenda(
            change_code=code,
            original_trace=rec.digits("original entry trace number", 7, 21),
            original_rdfi=rec.digits("original receiving DFI id", 28, 35),
            corrected_data=corrected.rstrip(),
            trace_number=rec.digits("trace number", 80, 94),
        )
    if type_code in ("02", "05"):
        sequence = rec.num("addenda sequence number", 84, 87)
        if type_code == "05" and sequence != count:
            raise rec.error(
                "addenda sequence number", 84, 87, f"must be {count}: addenda are numbered from 1"
            )
        entry_sequence = rec.digits("entry detail sequence number", 88, 94)
        if entry_sequence != entry["trace_number"][-7:]:
            raise rec.error(
                "entry detail sequence number",
                88,
                94,
                "must be the last seven digits of its entry's trace number",
            )
        return Addenda(
            payment_info=rec.raw(4, 83).rstrip(),
            sequence=sequence,
            entry_sequence=entry_sequence,
            type_code=type_code,
        )
    if sec == "IAT" and type_code in {str(n) for n in range(10, 19)}:
        if type_code == "10" and rec.raw(4, 6) not in IAT_TRANSACTION_TYPES:
            raise rec.error(
                "Addenda10 transaction type code",
                4,
                6,
                "is an invalid Addenda10 transaction type code",
            )
        return Addenda(payment_info=rec.raw(4, 94).rstrip(), sequence=count, type_code=type_code)
    raise rec.error("addenda type code", 2, 3, f"is not an addenda type a {sec} entry may carry")


def _close_entry(batch: _OpenBatch) -> None:
    entry = batch.entry
    if entry is None:
        return
    addenda = tuple(batch.addenda)
    if entry["indicator"] == "1" and not addenda:
        raise NachaError(
            "says an addenda follows but none does",
            line=entry["line"],
            field="entry detail addenda record indicator",
            value="1",
        )
    if entry["indicator"] == "0" and addenda:
        raise NachaError(
            "is invalid for addenda record(s) found: the entry says none follows",
            line=entry["line"],
            field="entry detail addenda record indicator",
            value="0",
        )
    line = entry.pop("line")
    entry.pop("indicator")
    entry["addenda"] = addenda
    batch.entries.append((line, Entry(**entry)))
    batch.entry, batch.addenda = None, []


def _control_mismatch(rec: _Record, name: str, start: int, end: int, computed) -> NachaError:
    return rec.error(name, start, end, f"does not match the {computed} the records add up to")


def _batch_control(rec: _Record, open_batch: _OpenBatch) -> Batch:
    header = open_batch.header
    entries = [e for _, e in open_batch.entries]
    if not entries:
        raise NachaError("has no entries", line=header["line"], field="batch header")
    if rec.num("service class code", 2, 4) != header["service_class"]:
        raise rec.error(
            "service class code",
            2,
            4,
            f"does not match its batch header's {header['service_class']}",
        )
    # IAT batch controls leave the company identification blank.
    if rec.alpha(45, 54) != header["company_id"] and not (
        header["layout"] == "IAT" and not rec.alpha(45, 54)
    ):
        raise rec.error(
            "company identification",
            45,
            54,
            f"does not match its batch header's “{header['company_id']}”",
        )
    if rec.raw(80, 87) != header["odfi"]:
        raise rec.error(
            "originating DFI id", 80, 87, f"does not match its batch header's {header['odfi']}"
        )
    if rec.num("batch number", 88, 94) != header["batch_number"]:
        raise rec.error(
            "batch number", 88, 94, f"does not match its batch header's {header['batch_number']}"
        )
    header_fields = {k: v for k, v in header.items() if k not in ("line", "layout")}
    batch = Batch(entries=tuple(entries), **header_fields)
    if rec.num("entry/addenda count", 5, 10) != batch.entry_addenda_count:
        raise _control_mismatch(rec, "entry/addenda count", 5, 10, batch.entry_addenda_count)
    if rec.num("entry hash", 11, 20) != batch.entry_hash:
        raise _control_mismatch(rec, "entry hash", 11, 20, f"{batch.entry_hash:010d}")
    if rec.num("total debit entry dollar amount", 21, 32) != batch.debit_cents:
        raise _control_mismatch(rec, "total debit entry dollar amount", 21, 32, batch.debit_cents)
    if rec.num("total credit entry dollar amount", 33, 44) != batch.credit_cents:
        raise _control_mismatch(rec, "total credit entry dollar amount", 33, 44, batch.credit_cents)
    traces = [e.trace_number for e in entries]
    for (line, entry), previous in zip(open_batch.entries[1:], traces, strict=False):
        if entry.trace_number <= previous:
            raise NachaError(
                "is not ascending: trace numbers rise within a batch",
                line=line,
                field="entry detail trace number",
                value=entry.trace_number,
            )
    return batch


def parse(data: bytes | str) -> NachaFile:
    """Read a NACHA file, checking record order, every field, check digits, counts, hashes,
    totals and blocking. Returns the file or raises ``NachaError`` at the first defect."""
    lines = _lines(data)
    if not lines:
        raise NachaError("is empty", field="file")
    header: FileHeader | None = None
    batches: list[Batch] = []
    open_batch: _OpenBatch | None = None
    control: _Record | None = None
    total_records = 0
    batch_numbers: list[int] = []
    for number, text in lines:
        total_records += 1
        kind = text[0]
        if control is not None:
            if text != FILLER:
                raise NachaError(
                    "follows the file control record (only 9-filler may)",
                    line=number,
                    field="record type",
                    value=kind,
                )
            continue
        if kind == "1":
            if header is not None:
                raise NachaError(
                    "none or more than one file headers exists", line=number, field="file header"
                )
            header = _file_header(_Record(number, text, "file header"))
        elif header is None:
            raise NachaError(
                "none or more than one file headers exists: the first record must be the file header (1)",
                line=number,
                field="record type",
                value=kind,
            )
        elif kind == "5":
            if open_batch is not None:
                raise NachaError(
                    "batch header inside an open batch (its batch control is missing)",
                    line=number,
                    field="batch header",
                )
            open_batch = _OpenBatch(
                line=number, header=_batch_header(_Record(number, text, "batch header"))
            )
            if batch_numbers and open_batch.header["batch_number"] <= batch_numbers[-1]:
                raise NachaError(
                    "is not ascending: batch numbers rise through the file",
                    line=number,
                    field="batch header batch number",
                    value=str(open_batch.header["batch_number"]),
                )
            batch_numbers.append(open_batch.header["batch_number"])
        elif kind == "6":
            if open_batch is None:
                raise NachaError(
                    "entry detail outside of batch", line=number, field="record type", value=kind
                )
            _close_entry(open_batch)
            open_batch.entry = _entry(_Record(number, text, "entry detail"), open_batch.header)
        elif kind == "7":
            if open_batch is None or open_batch.entry is None:
                raise NachaError(
                    "addenda outside of entry", line=number, field="record type", value=kind
                )
            rec = _Record(number, text, "addenda")
            addenda = _addenda(
                rec, open_batch.entry, open_batch.header["layout"], len(open_batch.addenda) + 1
            )
            if addenda is not None:
                open_batch.addenda.append(addenda)
        elif kind == "8":
            if open_batch is None:
                raise NachaError(
                    "batch control outside of batch", line=number, field="record type", value=kind
                )
            _close_entry(open_batch)
            batches.append(_batch_control(_Record(number, text, "batch control"), open_batch))
            open_batch = None
        elif kind == "9":
            if open_batch is not None:
                raise NachaError(
                    "file control inside an open batch (its batch control is missing)",
                    line=number,
                    field="file control",
                )
            if text == FILLER:
                raise NachaError(
                    "none or more than one file control exists", line=number, field="file control"
                )
            control = _Record(number, text, "file control")
        else:
            raise NachaError(
                "is not a record type (1, 5, 6, 7, 8 or 9)",
                line=number,
                field="record type",
                value=kind,
            )
    if header is None:
        raise NachaError("none or more than one file headers exists", field="file header")
    if open_batch is not None:
        raise NachaError(
            "batch has no batch control record", line=open_batch.line, field="batch control"
        )
    if control is None:
        raise NachaError("none or more than one file control exists", field="file control")
    result = NachaFile(header=header, batches=tuple(batches))
    _check_file_control(control, result, total_records)
    blocks = control.num("block count", 8, 13)
    return NachaFile(header=header, batches=tuple(batches), block_count=blocks)


def _check_file_control(rec: _Record, nacha_file: NachaFile, total_records: int) -> None:
    if rec.num("batch count", 2, 7) != len(nacha_file.batches):
        raise _control_mismatch(rec, "batch count", 2, 7, len(nacha_file.batches))
    blocks = -(-total_records // BLOCKING_FACTOR)
    if rec.num("block count", 8, 13) != blocks:
        raise _control_mismatch(rec, "block count", 8, 13, blocks)
    if rec.num("entry/addenda count", 14, 21) != nacha_file.entry_addenda_count:
        raise _control_mismatch(rec, "entry/addenda count", 14, 21, nacha_file.entry_addenda_count)
    if rec.num("entry hash", 22, 31) != nacha_file.entry_hash:
        raise _control_mismatch(rec, "entry hash", 22, 31, f"{nacha_file.entry_hash:010d}")
    if rec.num("total debit entry dollar amount", 32, 43) != nacha_file.debit_cents:
        raise _control_mismatch(
            rec, "total debit entry dollar amount", 32, 43, nacha_file.debit_cents
        )
    if rec.num("total credit entry dollar amount", 44, 55) != nacha_file.credit_cents:
        raise _control_mismatch(
            rec, "total credit entry dollar amount", 44, 55, nacha_file.credit_cents
        )


def returns_and_changes(nacha_file: NachaFile) -> tuple[list[Entry], list[Entry]]:
    """The returned entries (addenda 99) and the notifications of change (addenda 98)."""
    returns = [e for e in nacha_file.entries if e.return_addenda is not None]
    changes = [e for e in nacha_file.entries if e.change_addenda is not None]
    return returns, changes


def describe(entries: Sequence[Entry]) -> dict[str, int]:
    """Counts and totals for a summary line."""
    return {
        "entries": len(entries),
        "debit_cents": sum(e.amount_cents for e in entries if e.direction == "debit"),
        "credit_cents": sum(e.amount_cents for e in entries if e.direction == "credit"),
    }
