"""The `twinning` command: serve, import/export bundles, manage keys, and (later) suggest and evaluate."""

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from service.settings import get_settings

app = typer.Typer(help="Twinning: partner matching for city-to-city cooperation.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _sessions():
    from service.db import make_engine, make_sessionmaker, migrate

    engine = make_engine(get_settings().database_url)
    migrate(engine)
    return make_sessionmaker(engine)


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="address to bind")] = None,
    port: Annotated[Optional[int], typer.Option(help="port to bind")] = None,
) -> None:
    """Serve the API (and the workspace pages)."""
    import uvicorn

    from service.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info")


@app.command("import")
def import_(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a bundle .json or a .csv sheet")]) -> None:
    """Import a bundle all-or-nothing: any invalid profile and nothing is stored."""
    from service.bundles import import_validated, read_bundle_file
    from service.db import session_scope
    from service.errors import TwinningError

    try:
        bundle = read_bundle_file(file)
        with session_scope(_sessions()) as session:
            summary, _ = import_validated(session, bundle, accepted_by="cli")
    except TwinningError as exc:
        _fail(exc)
    typer.echo(json.dumps(summary.model_dump()))


@app.command()
def export(output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write; default stdout")] = None) -> None:
    """Export everything stored as one bundle."""
    from service.db import session_scope
    from service.store import export_bundle

    with session_scope(_sessions()) as session:
        text = json.dumps(export_bundle(session), ensure_ascii=False, indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, manager or member")],
    profile: Annotated[Optional[str], typer.Option(help="the profile a member key speaks for")] = None,
    name: Annotated[Optional[str], typer.Option(help="who holds the key")] = None,
) -> None:
    """Create an API key and print its secret (shown once)."""
    from service.auth import Role, create_key
    from service.db import session_scope
    from service.errors import TwinningError

    try:
        with session_scope(_sessions()) as session:
            secret, _ = create_key(session, role=Role(role), profile_id=profile, name=name)
    except (TwinningError, ValueError) as exc:
        _fail(exc)
    typer.echo(secret)


@app.command()
def demo(
    bundle: Annotated[Optional[Path], typer.Option(help="bundle to load; default the World Cities EU-Korea demo")] = None,
) -> None:
    """Load the demo bundle and print a fresh manager key: what `make run` does before serving."""
    from service.auth import Role, create_key
    from service.bundles import import_validated, read_bundle_file
    from service.db import session_scope

    settings = get_settings()
    path = bundle or settings.demo_bundle_path
    with session_scope(_sessions()) as session:
        summary, _ = import_validated(session, read_bundle_file(path), accepted_by="demo")
        secret, _ = create_key(session, role=Role.MANAGER, name="demo manager")
    typer.echo(f"Loaded {path.name}: {summary.profiles_created} new, {summary.profiles_updated} updated, {summary.profiles_unchanged} unchanged profiles.")
    typer.echo(f"Manager API key: {secret}")
    typer.echo(f"API docs:  http://{settings.host}:{settings.port}/docs")
