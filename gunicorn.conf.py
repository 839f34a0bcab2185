"""gunicorn settings for the container: one process with threads.

One process, because the scheduler runs inside the app process and exactly one may run per
deployment; threads, because requests wait on the database and Salesforce, not on the CPU.
Scale out with more containers on Postgres and Redis, not with more workers here.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = 1
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = 60
graceful_timeout = 20
keepalive = 5
control_socket_disable = True  # no ~/.gunicorn socket in a read-only home
accesslog = None  # the app logs each request as JSON
errorlog = "-"
preload_app = False  # never fork a process that may hold scheduler threads


def post_worker_init(worker):
    # The scheduler contends for leadership in every worker; exactly one wins (webapp.scheduler).
    from webapp.mailimport.background import start as start_mail_imports
    from webapp.scheduler import start

    start(worker.wsgi)
    # Mail imports a dead process left unfinished are taken over here (they are idempotent).
    start_mail_imports(worker.wsgi)
