import time

from django.core.management.base import BaseCommand

from ohm.batch.schedule import JOBS, due_jobs, run_job
from ohm.core import clock


class Command(BaseCommand):
    help = (
        "Run the recurring jobs that are due (cron every few minutes), or keep running with --loop."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loop", action="store_true", help="Keep running, checking every --every seconds"
        )
        parser.add_argument("--every", type=int, default=60)
        parser.add_argument(
            "--list", action="store_true", help="List the jobs and when they last ran"
        )

    def handle(self, *args, loop=False, every=60, list=False, **options):
        if list:
            from ohm.core.models import ScheduledJob

            records = {r.name: r for r in ScheduledJob.objects.all()}
            for job in JOBS:
                record = records.get(job.name)
                last = (
                    f"{record.last_started_at:%Y-%m-%d %H:%M} {record.last_status}"
                    if record and record.last_started_at
                    else "never"
                )
                self.stdout.write(
                    f"{job.name:<16} every {job.every}  last: {last}  — {job.description}"
                )
            return
        while True:
            for job in due_jobs(at=clock.now()):
                record = run_job(job, at=clock.now())
                self.stdout.write(
                    f"{job.name}: {record.last_status} — {record.last_message.splitlines()[-1] if record.last_message else ''}"
                )
            if not loop:
                return
            time.sleep(every)
