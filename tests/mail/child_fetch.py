"""A fetch in a child process, for the SIGKILL test: ``python child_fetch.py '<app config JSON>' MAILBOX_ID KILL_AFTER``.

The process kills itself with SIGKILL right after its KILL_AFTER-th batch committed, with the
IMAP connection open and the mailbox's lease held, as a crash would leave them.
"""

import json
import os
import signal
import sys

from webapp import create_app
from webapp.db import get_engine
from webapp.mail.fetch import FetchOptions, fetch_mailbox

config, mailbox_id, kill_after = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
app = create_app(config)
batches = []


def after_batch(state):
    batches.append(state.last_uid)
    if len(batches) == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)


fetch_mailbox(get_engine(app), app.extensions["vault"], mailbox_id,
              FetchOptions.from_config(app.config, batch_messages=2), after_batch=after_batch)
