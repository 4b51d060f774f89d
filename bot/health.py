"""``/healthz`` (the process is up) and ``/readyz`` (database and NLU reachable).

With several Rasa servers (``RASA_URL`` lists them) the app is ready while at least one answers:
the client routes around the others. ``checks.nlu`` then says ``degraded: ...`` and names the
servers that are down, and ``nlu_servers`` gives each server's state, for monitoring.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from bot.deps import DatabaseDep, NluDep
from nlu.client import ServerState

router = APIRouter(tags=["health"])

_WHAT_TO_DO = {
    ServerState.UNREACHABLE: "start Rasa (`abonent nlu serve`) or check RASA_URL",
    ServerState.NO_MODEL: "run `abonent nlu train`",
    ServerState.TOKEN_REFUSED: "set RASA_TOKEN to the token Rasa was started with",
    ServerState.BAD_ANSWER: "does RASA_URL point at a Rasa server started with --enable-api?",
}


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
    servers = await nlu.check_servers()
    checks["nlu"] = nlu_check(servers)
    ready = checks["database"] == "ok" and ServerState.OK in servers.values()
    body = {"ready": ready, "checks": checks, "nlu_servers": {k: str(v) for k, v in servers.items()}}
    return JSONResponse(body, status_code=200 if ready else 503)


def nlu_check(servers: dict[str, ServerState]) -> str:
    """One line on the NLU: "ok" when every server answers, else which are down and what to do."""
    down = {name: state for name, state in servers.items() if state is not ServerState.OK}
    if not down:
        return "ok"
    if len(servers) == 1:
        state = next(iter(down.values()))
        return f"{state}: {_WHAT_TO_DO[state]}"
    listed = ", ".join(f"{name} ({state})" for name, state in down.items())
    if len(down) < len(servers):
        answering = len(servers) - len(down)
        return f"degraded: {answering} of {len(servers)} Rasa servers answer; down: {listed}"
    hints = "; ".join(dict.fromkeys(_WHAT_TO_DO[state] for state in down.values()))
    return f"unreachable: no Rasa server answers: {listed}; {hints}"
