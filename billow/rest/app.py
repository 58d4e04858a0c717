"""The FastAPI application: Kill Bill's `/1.0/kb` API over the services of one `Billow`."""

from __future__ import annotations

import logging
import time

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billow.app import Billow
from billow.core.db.engine import DEFAULT_POOL_SIZE
from billow.core.version import __version__
from billow.rest import edge, errors, openapi
from billow.rest.admission import Admission, AdmissionLimits
from billow.rest.context import authenticate
from billow.rest.jsonio import KBJSONResponse
from billow.rest.permissions import authorize, permission_for
from billow.rest.routes import (
    accounts,
    admin,
    bundles,
    catalog,
    custom_fields,
    emails,
    export,
    invoice_lookups,
    invoice_payments,
    invoice_templates,
    invoices,
    overdue,
    payment_combo,
    payment_methods,
    payments,
    plugins,
    security,
    subscriptions,
    tags,
    tenants,
    test_clock,
    usages,
)

# one line per request, at INFO: `billow serve --access-log/--no-access-log` (billow.core.logs.configure)
access_log = logging.getLogger("billow.access")


def create_app(billow: Billow, *, max_body_bytes: int | None = None,
               admission: AdmissionLimits | None = None) -> FastAPI:
    """The API over `billow`; `max_body_bytes` caps request bodies (default BILLOW_MAX_BODY_BYTES or 10 MiB),
    `admission` bounds the requests served at once and waiting (default: billow.rest.admission's settings)."""
    app = FastAPI(title="Billow", version=__version__, default_response_class=KBJSONResponse,
                  description="Kill Bill-compatible billing API (/1.0/kb)")
    app.state.billow = billow
    errors.install(app)

    registry = CollectorRegistry()
    requests = Counter("billow_http_requests_total", "HTTP requests", ["method", "route", "status"],
                       registry=registry)
    latency = Histogram("billow_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
                        registry=registry)
    app.state.metrics_registry = registry

    app.user_middleware.append(Middleware(MetricsAndAuth, billow=billow, api=app, requests=requests,
                                          latency=latency))

    # invoice_templates and invoice_lookups before invoices, so that /invoices/template, /invoices/pagination,
    # ... are not taken for an invoice id
    routers = [m.router for m in (tenants, accounts, subscriptions, bundles, test_clock, catalog, admin,
                                  invoice_templates, invoice_lookups, invoices, export, tags, custom_fields,
                                  usages, security, payment_methods, payment_combo, payments, invoice_payments,
                                  plugins, overdue, emails)]
    for router in routers:
        app.include_router(router, dependencies=[Depends(authorize)])
    # each route's permission, looked up once here (a write route without one stops the start: a bug)
    app.state.route_permissions = {
        (r.endpoint, method): permission_for(r.operation_id or r.name, method)
        for router in routers for r in router.routes if isinstance(r, APIRoute) for method in r.methods or ()}
    # flat list of routes, for naming metrics of calls refused before routing
    app.state.flat_routes = [r for router in routers for r in router.routes]

    @app.get("/1.0/healthcheck", tags=["Operations"],
             responses={503: {"description": "Unhealthy: the body says which check failed"}})
    async def healthcheck() -> Response:
        result = await run_in_threadpool(billow.health)
        healthy = all(v["healthy"] for v in result.values())
        # Kill Bill's HealthCheckServlet: 500 while any check is unhealthy (out of rotation included)
        return KBJSONResponse(result, status_code=200 if healthy else 500,
                              headers={"Cache-Control": "must-revalidate,no-cache,no-store"})

    @app.get("/metrics", tags=["Operations"], response_class=Response,
             responses={200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}})
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    openapi.install(app)
    edge.install(app, max_body_bytes)  # last: it wraps the middleware above
    refused = Counter("billow_http_requests_refused_total", "Requests refused with 503 by back-pressure",
                      registry=registry)
    limits = admission or AdmissionLimits.from_environment(DEFAULT_POOL_SIZE)
    # just inside the outer error barrier: a refused request costs no authentication, no thread, no connection
    app.user_middleware.insert(1, Middleware(Admission, limits=limits, on_refusal=refused.inc))
    return app


class MetricsAndAuth:
    """Authentication and the call context (billow.rest.context), then a metric and an access-log line per
    request (a plain ASGI layer: Starlette's BaseHTTPMiddleware costs a task group and streams per request)."""

    def __init__(self, app: ASGIApp, billow: Billow, api: FastAPI, requests: Counter, latency: Histogram) -> None:
        self.app = app
        self.billow = billow
        self.api = api
        self.requests = requests
        self.latency = latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        request = Request(scope, receive)
        refusal = await authenticate(self.billow, request)
        if refusal is not None:
            await refusal(scope, receive, tracked)
        else:
            await self.app(scope, receive, tracked)
        template = _route_template(self.api, request)
        elapsed = time.perf_counter() - start
        self.requests.labels(request.method, template, str(status)).inc()
        self.latency.labels(request.method, template).observe(elapsed)
        access_log.info("%s %s -> %s in %.1f ms", request.method, template, status, elapsed * 1000)


def _route_template(app: FastAPI, request: Request) -> str:
    """The matched route's path template (also for calls refused before routing), for metric labels."""
    route = request.scope.get("route")
    if route is None:
        from starlette.routing import Match

        for candidate in app.state.flat_routes:
            match, _ = candidate.matches(request.scope)
            if match == Match.FULL:
                route = candidate
                break
    return getattr(route, "path", None) or "unmatched"
