from datetime import UTC, datetime, timedelta

import pytest

from ohm.batch.schedule import Job, due_jobs, run_job
from ohm.core.models import ScheduledJob

AT = datetime(2026, 3, 5, 18, 0, tzinfo=UTC)


@pytest.mark.django_db
class TestSchedule:
    def test_a_job_is_due_when_never_run_and_again_after_its_interval(self):
        job = Job("tick", timedelta(hours=1), lambda at: "ticked", "test")

        first_due = due_jobs(at=AT, jobs=[job])
        run_job(job, at=AT)

        assert first_due == [job]
        assert due_jobs(at=AT + timedelta(minutes=59), jobs=[job]) == []
        assert due_jobs(at=AT + timedelta(hours=1), jobs=[job]) == [job]

    def test_a_failing_job_is_recorded_and_does_not_raise(self):
        def boom(at):
            raise RuntimeError("head-end down")

        record = run_job(Job("boom", timedelta(minutes=5), boom, "test"), at=AT)

        assert record.last_status == "failed"
        assert "head-end down" in ScheduledJob.objects.get(name="boom").last_message

    def test_the_real_jobs_run_on_an_empty_utility(self):
        from ohm.batch.schedule import JOBS

        statuses = [run_job(job, at=AT).last_status for job in JOBS]

        assert statuses == ["ok"] * len(JOBS)

    def test_the_nightly_vee_checks_yesterday_in_local_days(self, monkeypatch):
        from ohm.batch import schedule

        calls = []
        monkeypatch.setattr(schedule, "call_command", lambda *args, **kw: calls.append(args))

        schedule._nightly_vee(datetime(2026, 3, 9, 6, 30, tzinfo=UTC))  # 23:30 PDT on the 8th

        assert calls == [("reads", "vee", "--start", "2026-03-07", "--end", "2026-03-08")]
