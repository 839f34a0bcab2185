"""An app process with the scheduler on, for the election test. Prints one JSON line per event."""

import json
import os
import sys
import time

from webapp import create_app
from webapp.scheduler import start

if __name__ == "__main__":
    app = create_app(json.loads(sys.argv[1]))
    service = start(app, poll_seconds=0.5, plan_seconds=1, check_seconds=0.5, retry_seconds=0.5)
    was = None
    while True:
        if service.leading != was:
            was = service.leading
            print(json.dumps({"pid": os.getpid(), "leading": was}), flush=True)
        time.sleep(0.1)
