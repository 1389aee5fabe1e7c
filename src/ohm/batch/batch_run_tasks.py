"""The task that executes a ``BatchRun`` on the worker (``ohm db_worker``, started by ``ohm up``).

Generic: any kind registered with ``ohm.core.batchrun`` runs this way (bill runs, imports,
collection runs). A worker killed mid-run leaves the run resumable; enqueueing it again (the
console's Resume button) finishes it with every item processed exactly once.
"""

from __future__ import annotations

from django.tasks import task

from ohm.core import batchrun, clock
from ohm.core.models import BatchRun


@task()
def execute_batch_run(run_id: int) -> str:
    run = BatchRun.objects.get(pk=run_id)
    if run.status in (BatchRun.Status.SUCCEEDED, BatchRun.Status.CANCELLED):
        return run.status
    run = batchrun.execute_run(run, at=clock.now)
    return f"{run.status}: {run.message}"
