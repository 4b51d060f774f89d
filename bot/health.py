"""``/healthz`` (the process is up) and ``/readyz`` (database and NLU reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bot.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await services.db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        checks["nlu"] = "ok" if await services.nlu.ready() else "no model loaded"
    except Exception as exc:  # noqa: BLE001
        checks["nlu"] = f"unreachable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
