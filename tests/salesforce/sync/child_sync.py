"""A sync in a child process, for the SIGKILL tests: ``python child_sync.py '<app config JSON>' [KILL_AT]``.

KILL_AT kills the process with SIGKILL at a chosen instant instead of at a random one:
``after-succeeded`` right after the run is recorded as succeeded, ``after-contact-page``
right after the first page of contacts committed.
"""

import json
import os
import signal
import sys

from webapp import create_app
from webapp.db import get_engine
from webapp.salesforce.client import RetryPolicy
from webapp.salesforce.sync import ledger
from webapp.salesforce.sync.writer import PageWriter
from webapp.sync.execution import run_queued


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at(point: str) -> None:
    if point == "after-succeeded":
        finish = ledger.finish

        def finish_then_die(engine, run_id, status, *args, **kwargs):
            finish(engine, run_id, status, *args, **kwargs)
            if status == "succeeded":
                _die()

        ledger.finish = finish_then_die
    elif point == "after-contact-page":
        flush = PageWriter.flush_invalidations

        def flush_then_die(self, invalidate):  # called once a page has committed
            flush(self, invalidate)
            if self.runner.counts.get("Contact", {}).get("fetched"):
                _die()

        PageWriter.flush_invalidations = flush_then_die
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    app = create_app(json.loads(sys.argv[1]))
    if len(sys.argv) > 2:
        kill_at(sys.argv[2])
    engine = get_engine(app)
    requested = ledger.request_run(engine, 1, "cli")
    options = {"retry": RetryPolicy(attempts=2, base_delay=0, max_delay=0)}
    outcome = run_queued(engine, app.extensions["vault"], None, requested.run_id, client_options=options, batch_size=200)
    print(outcome.status if outcome else "not-claimed", flush=True)
