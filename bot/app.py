"""The FastAPI application: routes from every part, services built once in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot import health
from bot.config import Settings, get_settings
from bot.http_guard import BodyLimit, SecurityHeaders
from bot.services import build_services
from channels.web.api import router as webchat_router
from channels.web.limits import WebChatLimits
from channels.web.sessions import WebChatSessions


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="Abonent",
        description="Customer-support bot for mobile operators: web chat, agent desk, health.",
        version="0.1.0",
        lifespan=lifespan,
        # No Swagger UI / ReDoc pages: FastAPI loads them from a CDN, and third-party script
        # on our origin could call the desk API with an agent's cookie. The schema stays at
        # /openapi.json for any local viewer.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    # what routes reach through bot/deps.py (by name, without importing the composition root)
    app.state.settings = settings
    app.state.db = services.db
    app.state.nlu = services.nlu
    app.state.conversations = services.conversations
    app.state.notifier = services.notifier
    app.state.extensions = services.extensions
    app.state.webchat_limits = WebChatLimits.from_settings(settings, services.limits)
    app.state.webchat_sessions = WebChatSessions(services.db)
    # the last added runs first: headers go on everything, the 413 included
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.include_router(health.router)
    app.include_router(webchat_router)
    for extension in services.extensions:
        for router in extension.routers():
            app.include_router(router)
    return app


async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with one readable sentence first, then FastAPI's per-field details."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            message = "the body is not valid JSON"
            where = ""
        problems.append(f"{where}: {message}" if where else message)
    detail = [
        {k: v for k, v in error.items() if k in ("loc", "msg", "type")} for error in exc.errors()
    ]
    return JSONResponse(
        status_code=422,
        content={"error": "invalid request: " + "; ".join(problems), "detail": detail},
    )
