"""FastAPI dependencies of the desk: the module, and who is logged in.

A request is logged in by ``Authorization: Bearer TOKEN`` (API clients) or by the page's
HttpOnly session cookie. Cookie-authenticated requests that change something must also carry
the ``X-Desk-Request`` header, which another site cannot add (defence in depth next to
SameSite=Strict). The cookie is ``Secure`` unless ``ABONENT_PLAIN_HTTP`` says the desk is served
over plain HTTP (browsers keep Secure cookies on http://127.0.0.1 and http://localhost, but
drop them on any other plain-HTTP address).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status

from bot.client_address import client_address as resolve_client
from bot.config import Settings
from handoff.audit import Actor
from handoff.auth import AgentInfo
from handoff.errors import InvalidCredentials
from handoff.extension import HandoffExtension

COOKIE_NAME = "abonent_desk"
CSRF_HEADER = "X-Desk-Request"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


async def get_handoff(request: Request) -> HandoffExtension:
    for extension in request.app.state.extensions:
        if isinstance(extension, HandoffExtension):
            return extension
    raise RuntimeError("the handoff module is not part of this app")


HandoffDep = Annotated[HandoffExtension, Depends(get_handoff)]


def presented_token(request: Request) -> tuple[str | None, bool]:
    """The session token of the request and whether it came from the cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(COOKIE_NAME)
    return (cookie, True) if cookie else (None, False)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_agent(request: Request, module: HandoffDep) -> AgentInfo:
    token, from_cookie = presented_token(request)
    if token is None:
        raise unauthorized("log in first: POST /api/desk/login, then send the bearer token")
    try:
        agent = await module.accounts.resolve(token)
    except InvalidCredentials as exc:
        raise unauthorized(str(exc)) from exc
    if from_cookie and request.method not in _SAFE_METHODS and not request.headers.get(
        CSRF_HEADER
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"missing the {CSRF_HEADER} header")
    return agent


CurrentAgent = Annotated[AgentInfo, Depends(current_agent)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The logged-in agent and the address the request came from (for the audit trail)."""

    agent: AgentInfo
    address: str

    @property
    def actor(self) -> Actor:
        return Actor.of(self.agent, self.address)


async def current_caller(request: Request, agent: CurrentAgent, module: HandoffDep) -> Caller:
    return Caller(agent, client_address(request, module.settings))


async def current_supervisor(caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    if not caller.agent.is_supervisor:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="supervisors only")
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
# a supervisor, or 403 "supervisors only" for an agent (401 without a login)
CurrentSupervisor = Annotated[Caller, Depends(current_supervisor)]


def client_address(request: Request, settings: Settings) -> str:
    """The client's address for login throttling, by the web chat's rule: the peer, or what
    ``X-Forwarded-For`` says when the peer is one of ``ABONENT_TRUSTED_PROXIES``."""
    return resolve_client(request, settings.trusted_proxy_networks)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(settings.desk_session_hours * 3600),
        path="/",
        httponly=True,  # the page's JavaScript never sees the token
        samesite="strict",
        secure=not settings.plain_http,
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    # the same attributes as when it was set, or a browser may keep the Secure one
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict",
                           secure=not settings.plain_http)
