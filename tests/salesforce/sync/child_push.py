"""A sync with two-way on, in a child process, for the SIGKILL test:
``python child_push.py '<app config JSON>' <pending grace seconds>``."""

import json
import sys
from datetime import timedelta

from webapp import create_app
from webapp.db import get_engine
from webapp.salesforce.client import RetryPolicy
from webapp.salesforce.sync import ledger
from webapp.sync.execution import run_queued

if __name__ == "__main__":
    app = create_app(json.loads(sys.argv[1]))
    engine = get_engine(app)
    requested = ledger.request_run(engine, 1, "cli")
    options = {"retry": RetryPolicy(attempts=2, base_delay=0, max_delay=0)}
    outcome = run_queued(engine, app.extensions["vault"], None, requested.run_id, client_options=options,
                         pending_grace=timedelta(seconds=float(sys.argv[2])))
    print(outcome.status if outcome else "not-claimed", flush=True)
