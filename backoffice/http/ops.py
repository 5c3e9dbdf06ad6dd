"""The operations endpoints, beside the API and with no token: ``/readyz`` (can this
process do its work: the database answers, the delivery worker runs) and ``/metrics``
(Prometheus text; aggregates only, see ``metrics``). ``/healthz``, liveness, is the API's.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from backoffice.delivery.worker import DeliveryWorker
from backoffice.facade import Backoffice
from backoffice.http import bodies
from backoffice.http.metrics import Metrics
from backoffice.http.problems import problem

log = logging.getLogger("backoffice.server")
router = APIRouter()
NO_WORKER = "not run in this process"


def readiness(office: Backoffice, worker: DeliveryWorker | None) -> dict[str, str]:
    """Each check's state: "ok", or why it is not ready."""
    checks: dict[str, str] = {}
    try:
        office.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # whatever the driver raises; the reason goes to the log only
        log.warning("readiness: the database is unreachable (%s)", type(exc).__name__)
        checks["database"] = "the database is unreachable"
    if worker is None:
        checks["worker"] = NO_WORKER
    else:
        checks["worker"] = "; ".join(worker.not_running()) or "ok"
    return checks


@router.get("/readyz", response_model=bodies.Readiness, tags=["health"],
            responses={503: {"model": bodies.Problem,
                             "description": "Not ready: the errors name what is not"}})
def readyz(request: Request) -> Any:
    """Readiness, needs no token: 200 when the database answers and the delivery worker
    (when this process runs one) is running; 503 naming what is not ready."""
    checks = readiness(cast(Backoffice, request.app.state.backoffice),
                       cast(DeliveryWorker | None, request.app.state.worker))
    failing = {name: state for name, state in checks.items() if state not in ("ok", NO_WORKER)}
    if failing:
        return problem(503, "not ready: " + "; ".join(failing.values()),
                       title="Not ready", type_uri="urn:webhooks-backoffice:problem:not-ready",
                       errors=[{"field": name, "message": state}
                               for name, state in failing.items()])
    return JSONResponse({"status": "ready", "checks": checks})


@router.get("/metrics", response_class=Response, tags=["health"],
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text format 0.0.4"}})
def metrics(request: Request) -> Response:
    """Prometheus metrics, needs no token: aggregates over every merchant only (queue
    depth, oldest due delivery, attempts and failures, request latency by route template,
    webhooks); no label names a merchant or a webhook."""
    registry = cast(Metrics, request.app.state.metrics).registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, office: Backoffice, worker: DeliveryWorker | None) -> Metrics:
    """Add the operations routes to ``app``; returns its metrics, to observe requests."""
    metrics = Metrics(office)
    app.state.worker = worker
    app.state.metrics = metrics
    app.include_router(router)
    return metrics
