"""``/healthz`` (the process is up) and ``/readyz`` (database and NLU reachable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bot.deps import DatabaseDep, NluDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(db: DatabaseDep, nlu: NluDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await db.ping()
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if await nlu.ready():
        checks["nlu"] = "ok"
    elif await nlu.version() is None:
        checks["nlu"] = "unreachable: start Rasa (`abonent nlu serve`) or check RASA_URL"
    else:
        checks["nlu"] = "no model loaded: run `abonent nlu train`"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
