"""The Dash app inside the Celery worker (REDIS_URL deployments), so that it can run the background callbacks.

Dash's CeleryManager registers each `background=True` callback as a Celery task when the page defining it is
imported, and runs it by calling the page's function, which reaches the services through `dash.get_app()`. So the
worker builds the app as a web process does (pages, CeleryManager on the same Celery app as the worker's), on the
worker's own services (`services.celery_tasks.worker_services`): the callbacks then read the shared store and ledger
the web processes read. The user a job acts for travels with the job (dashapp/auth.py `custom_data` hook).

Imported by the worker only (`services.celery_app.TASK_MODULES`), never by a web process.
"""

from __future__ import annotations

from dashapp import create_app
from services.celery_tasks import worker_services

_services = worker_services()
app = create_app(_services.settings, _services)
