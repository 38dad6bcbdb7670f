"""Liveness and readiness, open to all."""

from fastapi import APIRouter, Request

from service.domain.health import health_status
from service.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut)
def health(request: Request) -> HealthOut:
    return HealthOut.model_validate(
        health_status(engine=request.app.state.engine, sessions=request.app.state.sessions, live=request.app.state.live)
    )
