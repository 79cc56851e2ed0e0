"""The versioned REST API (django-ninja). Routers live in each app's ``api.py``."""

from __future__ import annotations

from functools import partial

from ninja import NinjaAPI
from ninja.errors import ValidationError

from cylch.access.api import TokenAuth
from cylch.chronology.api import router as chronology_router
from cylch.core.api_errors import request_invalid
from cylch.events.api import router as events_router
from cylch.events.fhir_api import router as fhir_router
from cylch.identity.api import router as identity_router
from cylch.reports.api import router as reports_router
from cylch.rules.api import router as alerts_router

api = NinjaAPI(
    title="Cylch API",
    version="1.0.0",
    description=(
        "Agency systems send events about the people they know and read person records. "
        "Authenticate with `Authorization: Bearer <token>` (see `cylch token create`)."
    ),
    auth=TokenAuth(),
    urls_namespace="api-v1",
    openapi_url="/openapi.json",
)
api.add_exception_handler(ValidationError, partial(request_invalid, api))
api.add_router("/events", events_router)
api.add_router("/persons", identity_router)
api.add_router("/persons", chronology_router)
api.add_router("/persons", "cylch.protection.api.router")
api.add_router("/reports", reports_router)
api.add_router("/fhir", fhir_router)
api.add_router("/alerts", alerts_router)
api.add_router("/measures", "cylch.insight.api.router")
