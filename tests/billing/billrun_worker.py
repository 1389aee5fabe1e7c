"""A worker process for the bill-run crash test.

    python billrun_worker.py setup --accounts 30
    python billrun_worker.py run --chunk-size 7 [--stall-in-chunk 2 --marker F]
    python billrun_worker.py report

``setup`` writes the bench's accounts (cycle 1, three tariffs, a month of hourly reads).
``run`` plans (or resumes) cycle 1's bill run and executes it; with ``--stall-in-chunk N``
it stops inside chunk N after its bills, lines and journal entries are written but before
the chunk commits, touches ``--marker`` and waits to be killed. ``report`` prints JSON: live
bills per account, each account's ledger balance minus its bills' charges, books balanced.
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ohm.settings")

import django  # noqa: E402

django.setup()

from bench import billing as bench  # noqa: E402

from ohm.billing import operations, runs  # noqa: E402
from ohm.billing.models import Bill  # noqa: E402
from ohm.core import batchrun  # noqa: E402
from ohm.core.audit import SystemActor  # noqa: E402
from ohm.customers.models import Account  # noqa: E402
from ohm.ledger.queries import check_books, get_balance_cents  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "run", "report"])
    parser.add_argument("--accounts", type=int, default=30)
    parser.add_argument("--chunk-size", type=int, default=7)
    parser.add_argument("--stall-in-chunk", type=int, default=None)
    parser.add_argument("--marker", default="")
    args = parser.parse_args()
    at = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)

    if args.command == "setup":
        bench.setup(args.accounts, 1, sys.stderr)
        return
    if args.command == "report":
        live = {
            a: Bill.objects.filter(account_id=a, status__in=["held", "issued"]).count()
            for a in Account.objects.values_list("pk", flat=True)
        }
        owed = {
            a: get_balance_cents(account_id=a)
            - sum(
                Bill.objects.filter(account_id=a, status="issued").values_list(
                    "new_charges_cents", flat=True
                )
            )
            for a in live
        }
        run = Bill.objects.exclude(run=None).values_list("run__status", flat=True).first()
        print(
            json.dumps(
                {
                    "live_bills": sorted(set(live.values())),
                    "bills": sum(live.values()),
                    "ledger_minus_bills": sorted(set(owed.values())),
                    "balanced": check_books().balanced,
                    "run_status": run,
                }
            )
        )
        return

    if args.stall_in_chunk is not None:
        real = operations._post_entries
        calls = {"n": 0}

        def stalling(drafts, **kwargs):
            result = real(drafts, **kwargs)
            if calls["n"] == args.stall_in_chunk:
                Path(args.marker).write_text(str(os.getpid()))
                while True:  # bills and entries written, chunk not committed: wait for SIGKILL
                    time.sleep(0.1)
            calls["n"] += 1
            return result

        operations._post_entries = stalling
    run = runs.plan_bill_run(
        cycle=1,
        as_of=date(2026, 4, 2),
        actor=SystemActor("test"),
        at=at,
        chunk_size=args.chunk_size,
    )
    run = batchrun.execute_run(run, at=lambda: at)
    print(json.dumps({"status": run.status, "result": run.result}))
    sys.exit(0 if run.status == "succeeded" else 1)


if __name__ == "__main__":
    main()
