"""Gunicorn configuration for Mbolo.

Used by infra/systemd/mbolo-web.service and the `web` service of infra/compose.yaml:
    gunicorn -c infra/gunicorn.conf.py app.wsgi:app
"""

import multiprocessing
import os

wsgi_app = "app.wsgi:app"

# Behind nginx on the same host. Compose sets GUNICORN_BIND=0.0.0.0:8000.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = 4

timeout = 30
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then to bound memory growth.
max_requests = 1000
max_requests_jitter = 100

# Logs go to stdout/stderr (journald under systemd, `docker compose logs` under compose).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# Trust X-Forwarded-* only from nginx. nginx runs on localhost on a VM;
# compose sets FORWARDED_ALLOW_IPS to "*" (web is reachable only on the compose network).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Only the scheme header nginx sets, so stray client headers cannot contradict it.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# Each worker imports the app itself (database engines and the like are not
# shared across fork).
preload_app = False

# gunicorn >= 25.1 opens a control socket under $HOME by default; not needed here
# (the setting is ignored by older versions).
control_socket_disable = True
