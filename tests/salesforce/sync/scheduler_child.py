"""An app process with the scheduler on, for the election tests. Prints one JSON line per
change of leadership; with an events file, also appends the moment its scheduler starts and
stops there (from the scheduler's own log records), so a test can line up two processes.

``python scheduler_child.py '<app config JSON>' ['<scheduler options JSON>' ['<events file>']]``
"""

import json
import logging
import os
import sys
import time

from webapp import create_app
from webapp.scheduler import start

EVENTS = {"scheduler leader": "start", "scheduler stepped down": "stop"}


class EventFile(logging.Handler):
    def __init__(self, path):
        super().__init__(logging.INFO)
        self.path = path

    def emit(self, record):
        event = EVENTS.get(record.msg)
        if event:
            with open(self.path, "a") as out:
                out.write(json.dumps({"pid": os.getpid(), "event": event, "t": record.created}) + "\n")


if __name__ == "__main__":
    app = create_app(json.loads(sys.argv[1]))
    options = {"poll_seconds": 0.5, "plan_seconds": 1, "check_seconds": 0.5, "retry_seconds": 0.5}
    if len(sys.argv) > 2:
        options.update(json.loads(sys.argv[2]))
    if len(sys.argv) > 3:
        logger = logging.getLogger("webapp.scheduler")
        logger.addHandler(EventFile(sys.argv[3]))
        logger.setLevel(logging.INFO)
    service = start(app, **options)
    was = None
    while True:
        if service.leading != was:
            was = service.leading
            print(json.dumps({"pid": os.getpid(), "leading": was}), flush=True)
        time.sleep(0.1)
