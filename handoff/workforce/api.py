"""``/api/desk/workforce/...``: forecast, staffing, schedule, swaps and time off."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/desk/workforce", tags=["workforce planning"])
