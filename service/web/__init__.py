"""The workspace: server-rendered pages under /app for programme managers and member cities.

Pages call the same use cases as the JSON API (`service.domain`) and obey the same role rules;
they add only sign-in, forms and HTML.
"""

from pathlib import Path

from fastapi import APIRouter
from starlette.staticfiles import StaticFiles

from service.web import cohorts, exports, imports, keys, login, notices, profiles, runs, shortlists, suggestions

__all__ = ["router", "static_files", "STATIC_DIR"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

router = APIRouter()
for module in (login, exports, notices, profiles, suggestions, shortlists, cohorts, runs, imports, keys):
    router.include_router(module.router)
router.include_router(profiles.creation)
router.include_router(cohorts.creation)


def static_files() -> StaticFiles:
    """The stylesheet and the progress script, served at /app/static (nothing is fetched from elsewhere)."""
    return StaticFiles(directory=STATIC_DIR)
