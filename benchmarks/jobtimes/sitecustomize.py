"""Benchmark harness only: record each workflow job's step time when STANCE_JOB_TIMES is set.

``benchmarks/scale.py`` puts this folder on PYTHONPATH of the ``snakemake`` it times. The jobs
run in threads of that process (the workflow profile's ``force-use-threads``), so each record
holds the rule, its wildcards, when the step started and ended (seconds since the process
started) and the process's peak resident memory so far (MB).
"""

import os
import resource
import sys
import time

_START = time.perf_counter()
_OUT = os.environ.get("STANCE_JOB_TIMES")

if _OUT and os.path.basename(sys.argv[0]) == "snakemake":
    import stance.cli.jobs as _jobs

    _run_job = _jobs.run_job

    def _timed(job):  # type: ignore[no-untyped-def]
        began = time.perf_counter() - _START
        try:
            return _run_job(job)
        finally:
            ended = time.perf_counter() - _START
            wildcards = getattr(job, "wildcards", None)
            tag = ",".join(f"{k}={v}" for k, v in wildcards.items()) if wildcards else ""
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            with open(_OUT, "a", encoding="utf-8") as fh:
                fh.write(f"{job.rule}\t{tag}\t{began:.3f}\t{ended:.3f}\t{peak:.0f}\n")

    _jobs.run_job = _timed
