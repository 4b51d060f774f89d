"""The desk page: ``/desk`` (logged in by an HttpOnly, SameSite=Strict cookie), its login page
and static assets. The page is plain HTML + JS; a strict Content-Security-Policy forbids
inline scripts, so even a slip in rendering could not run a subscriber's markup.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse

from handoff.api import agent_out, log_in
from handoff.deps import HandoffDep, presented_token, set_session_cookie
from handoff.errors import InvalidCredentials
from handoff.extension import HandoffExtension
from handoff.schemas import LoginIn, SessionOut

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "common.js": "text/javascript; charset=utf-8",
    "desk.js": "text/javascript; charset=utf-8",
    "login.js": "text/javascript; charset=utf-8",
    "desk.css": "text/css; charset=utf-8",
    "monitor.js": "text/javascript; charset=utf-8",
    "monitor.css": "text/css; charset=utf-8",
    "analytics.js": "text/javascript; charset=utf-8",
    "analytics.css": "text/css; charset=utf-8",
    "schedule.js": "text/javascript; charset=utf-8",
    "schedule.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

router = APIRouter(tags=["agent desk page"], include_in_schema=False)


def _page(name: str) -> HTMLResponse:
    return HTMLResponse((STATIC / name).read_text(encoding="utf-8"), headers=SECURITY_HEADERS)


@router.get("/desk")
async def desk(request: Request, module: HandoffDep) -> Response:
    token, from_cookie = presented_token(request)
    if token is None or not from_cookie:
        return RedirectResponse("/desk/login", status_code=status.HTTP_303_SEE_OTHER)
    try:
        await module.accounts.resolve(token)
    except InvalidCredentials:
        return RedirectResponse("/desk/login", status_code=status.HTTP_303_SEE_OTHER)
    return _page("desk.html")


async def _supervisor_page(request: Request, module: HandoffExtension, path: str,
                           page: str) -> Response:
    """A page for supervisors: an agent gets 403, a stranger the login page (and back)."""
    back = RedirectResponse(f"/desk/login?next={path}", status_code=status.HTTP_303_SEE_OTHER)
    token, from_cookie = presented_token(request)
    if token is None or not from_cookie:
        return back
    try:
        agent = await module.accounts.resolve(token)
    except InvalidCredentials:
        return back
    if not agent.is_supervisor:
        return HTMLResponse("<!doctype html><title>403</title><p>Supervisors only.</p>",
                            status_code=status.HTTP_403_FORBIDDEN, headers=SECURITY_HEADERS)
    return _page(page)


@router.get("/desk/monitor")
async def monitor(request: Request, module: HandoffDep) -> Response:
    """The supervisors' live monitor."""
    return await _supervisor_page(request, module, "/desk/monitor", "monitor.html")


@router.get("/desk/analytics")
async def analytics(request: Request, module: HandoffDep) -> Response:
    """The supervisors' quality figures."""
    return await _supervisor_page(request, module, "/desk/analytics", "analytics.html")


@router.get("/desk/schedule")
async def schedule(request: Request, module: HandoffDep) -> Response:
    """The week's schedule: supervisors build it and decide swaps and time off, agents see
    their shifts, swap them and ask for time off (the page picks its view by the caller's role).
    A stranger gets the login page (and back)."""
    back = RedirectResponse("/desk/login?next=/desk/schedule",
                            status_code=status.HTTP_303_SEE_OTHER)
    token, from_cookie = presented_token(request)
    if token is None or not from_cookie:
        return back
    try:
        await module.accounts.resolve(token)
    except InvalidCredentials:
        return back
    return _page("schedule.html")


@router.get("/desk/login")
async def login_page() -> HTMLResponse:
    return _page("login.html")


@router.post("/desk/session", response_model=SessionOut)
async def open_session(
    body: LoginIn, request: Request, response: Response, module: HandoffDep
) -> SessionOut:
    """The page's login: the token goes into an HttpOnly cookie, never to JavaScript."""
    done = await log_in(module, request, body, kind="cookie")
    # Secure unless ABONENT_PLAIN_HTTP: behind a TLS-terminating proxy the app itself sees
    # plain HTTP, so the request's scheme cannot decide it
    set_session_cookie(response, done.token, module.settings)
    return SessionOut(agent=agent_out(done.agent), expires_at=done.expires_at)


@router.get("/desk/assets/{name}")
async def asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such asset")
    return Response(
        (STATIC / name).read_bytes(),
        media_type=ASSETS[name],
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
