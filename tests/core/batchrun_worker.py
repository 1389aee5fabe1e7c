"""A worker process for the crash test: plans (or resumes) a run keyed ``crash-test`` and
executes it. Each item writes one audit event in its chunk's transaction. With
``--stall-in-chunk N`` it writes half of chunk N's items, touches ``--marker`` and waits to be
killed, so the kill lands mid-chunk with uncommitted work.

    python batchrun_worker.py run --items 40 --chunk-size 7 [--stall-in-chunk 3 --marker F]
    python batchrun_worker.py report   (prints JSON: item -> times processed, run status)
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ohm.settings")

import django

django.setup()

from ohm.core import audit, batchrun  # noqa: E402
from ohm.core.models import AuditEvent, BatchRun  # noqa: E402

EVENT = "tests.batch_item.processed"
KEY = "crash-test"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--chunk-size", type=int, default=7)
    parser.add_argument("--stall-in-chunk", type=int, default=None)
    parser.add_argument("--marker", default="")
    args = parser.parse_args()
    at = datetime(2026, 3, 3, 18, 0, tzinfo=UTC)

    if args.command == "report":
        counts: dict[str, int] = {}
        for reason in AuditEvent.objects.filter(event=EVENT).values_list("reason", flat=True):
            counts[reason] = counts.get(reason, 0) + 1
        run = BatchRun.objects.filter(key=KEY).first()
        print(json.dumps({"counts": counts, "status": run.status if run else None}))
        return

    def process(*, run, items, at):
        stall = args.stall_in_chunk
        in_stalled_chunk = stall is not None and items[0] == stall * args.chunk_size
        for position, item in enumerate(items):
            audit.record(
                EVENT, subject=None, actor=audit.SystemActor("test"), at=at, reason=str(item)
            )
            if in_stalled_chunk and position == len(items) // 2:
                Path(args.marker).write_text(str(os.getpid()))
                while True:  # wait here, transaction open, until the test kills us
                    time.sleep(0.1)
        return {"items": len(items)}

    batchrun.register(batchrun.JobKind("tests.crash", "Crash test", process))
    run = batchrun.plan_run(
        kind="tests.crash",
        items=range(args.items),
        chunk_size=args.chunk_size,
        actor=audit.SystemActor("test"),
        at=at,
        key=KEY,
    )
    run = batchrun.execute_run(run, at=lambda: at)
    print(json.dumps({"status": run.status, "result": run.result}))
    sys.exit(0 if run.status == BatchRun.Status.SUCCEEDED else 1)


if __name__ == "__main__":
    main()
