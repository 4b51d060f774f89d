"""Routes of the supervisor tools (stub until the implementation lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/desk", tags=["supervisor tools"])
