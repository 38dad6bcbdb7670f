"""Liveness and readiness, open to all."""

from fastapi import APIRouter, Request
from sqlalchemy import text

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request) -> dict:
    with request.app.state.sessions() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok", "database": request.app.state.engine.dialect.name, "index": request.app.state.live.status()}
