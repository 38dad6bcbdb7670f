"""Liveness and readiness, open to all."""

from fastapi import APIRouter, Request

from service.domain.health import health_status

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict:
    return health_status(
        engine=request.app.state.engine, sessions=request.app.state.sessions, live=request.app.state.live
    )
