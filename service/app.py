"""The FastAPI application: wiring of settings, database, live index, routes and error mapping."""

import gc
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from service import web
from service.api import bundles, cohorts, exclusions, health, keys, notices, profiles, runs, shortlists, suggestions
from service.api.limits import BodySizeLimit
from service.api.openapi import openapi_document
from service.db.engine import make_engine, make_sessionmaker, migrate
from service.errors import install_error_handlers
from service.live.index import LiveIndex
from service.settings import Settings, get_settings
from service.web.sessions import SessionStore
from service.web.sign_in_limit import SignInLimit

__all__ = ["create_app"]


def create_app(settings: Settings | None = None, live: LiveIndex | None = None) -> FastAPI:
    """Build the app; the schema is migrated at once so the first request finds it ready."""
    settings = settings or get_settings()
    # Process-wide and kept: a request's products are small, so a second BLAS thread saves little
    # and then spins after each product (measured: twice the CPU time, and the p99 with it, on two
    # cores). Set here, once, because OpenBLAS ignores a limit that a request thread sets after
    # another thread has set and restored one.
    threadpool_limits(settings.blas_threads, user_api="blas")
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = make_sessionmaker(engine)
    live = live or LiveIndex(settings=settings, sessions=sessions)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        live.start()
        # The index's Python objects (~630k at 100k profiles) live as long as the server: a full
        # collection walked them all, ~0.3 s taken out of whichever request set it off. Frozen,
        # the collector never visits them; what later writes create is collected as usual.
        gc.freeze()
        yield
        gc.unfreeze()
        engine.dispose()

    app = FastAPI(
        title="Twinning",
        version="0.1.0",
        description="Partner-matching recommendations for city-to-city cooperation programmes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.live = live
    app.state.web_sessions = SessionStore(
        sessions, idle_seconds=settings.session_idle_seconds, max_seconds=settings.session_max_seconds
    )
    app.state.sign_in_limit = SignInLimit(
        sessions, attempts=settings.sign_in_attempts, window_seconds=settings.sign_in_window_seconds
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    for module in (health, profiles, bundles, suggestions, exclusions, shortlists, notices, cohorts, runs, keys):
        app.include_router(module.router)
    app.include_router(web.router)
    app.mount("/app/static", web.static_files(), name="web-static")
    app.openapi = partial(openapi_document, app)
    return app
