"""A separate process for the import crash test, on a database the test made for it.

python import_worker.py setup --accounts 3000 --out FILE   (accounts, and a lockbox file paying each)
python import_worker.py import FILE --chunk 200            (ohm payments import, as an operator runs it)
python import_worker.py report FILE                        (JSON: what the database holds)
"""

import argparse
import json
import os
import sys
from datetime import UTC, date, datetime

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ohm.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402

from ohm.core.identifiers import next_account_numbers  # noqa: E402
from ohm.customers.models import Account  # noqa: E402
from ohm.ledger.queries import check_books, get_balance_cents  # noqa: E402
from ohm.payments.lockbox_format import write_lockbox  # noqa: E402
from ohm.payments.models import ImportRun, Payment  # noqa: E402
from ohm.payments.scanline import build_scan_line  # noqa: E402

DAY = date(2026, 3, 2)


def setup(count: int, out: str) -> None:
    at = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    Account.objects.bulk_create(
        [
            Account(
                number=number,
                status=Account.Status.ACTIVE,
                bill_cycle=1,
                opened_date=date(2020, 1, 1),
                created_at=at,
                address_line1="1 Crash St",
                city="Port Marisol",
                state="CA",
                postal_code="94000",
            )
            for number in next_account_numbers(count)
        ]
    )
    numbers = list(Account.objects.order_by("pk").values_list("number", flat=True))
    batches = [
        [
            {
                "amount_cents": 1_00 + i,
                "scan_line": build_scan_line(account_number=n, amount_due_cents=1_00 + i),
                "check_number": str(i),
            }
            for i, n in enumerate(numbers[start : start + 250], start=start)
        ]
        for start in range(0, len(numbers), 250)
    ]
    with open(out, "w") as handle:
        handle.write(write_lockbox(lockbox="0000777", deposit_date=DAY, batches=batches))


def report(path: str) -> None:
    numbers = list(Account.objects.order_by("pk").values_list("pk", "number"))
    expected = {pk: -(1_00 + i) for i, (pk, _) in enumerate(numbers)}
    wrong = [pk for pk, cents in expected.items() if get_balance_cents(account_id=pk) != cents]
    doubled = (
        Payment.objects.values("idempotency_key").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    run = ImportRun.objects.first()
    print(
        json.dumps(
            {
                "payments": Payment.objects.count(),
                "cents": int(Payment.objects.aggregate(t=Sum("amount_cents"))["t"] or 0),
                "doubled": doubled,
                "wrong_balances": len(wrong),
                "status": run.status if run else None,
                "reconciled": run.reconciled if run else False,
                "books_balanced": check_books().balanced,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "import", "report"])
    parser.add_argument("file", nargs="?")
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument("--out")
    parser.add_argument("--chunk", type=int, default=200)
    args = parser.parse_args()
    if args.command == "setup":
        setup(args.accounts, args.out)
    elif args.command == "import":
        call_command(
            "payments", "import", args.file, "--format", "lockbox", "--chunk", str(args.chunk)
        )
    else:
        report(args.file)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
