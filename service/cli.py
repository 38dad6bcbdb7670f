"""The `twinning` command: serve, import/export bundles, manage keys, and (later) suggest and evaluate."""

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from service.schemas import MAX_ROW_ID
from service.settings import get_settings

app = typer.Typer(help="Twinning: partner matching for city-to-city cooperation.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _sessions(idle_in_transaction_timeout: float | None = None):
    from service.db.engine import make_engine, make_sessionmaker, migrate

    engine = make_engine(get_settings().database_url, idle_in_transaction_timeout=idle_in_transaction_timeout)
    migrate(engine)
    return make_sessionmaker(engine)


def _operator():
    """Who the CLI acts as: whoever runs it on the server's machine administers the service."""
    from service.auth import Principal, Role

    return Principal(key_id=0, role=Role.ADMIN, profile_id=None, name="operator (CLI)")


def _source_line(listed) -> str:
    if listed.source == "batch":
        return f"from run {listed.run_id}, computed {listed.computed_at:%Y-%m-%d %H:%M} UTC (fresh: scored live since)"
    return "scored live"


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=2)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind")] = None,
) -> None:
    """Serve the API (and the workspace pages)."""
    import uvicorn

    from service.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a bundle .json or a .csv sheet")],
) -> None:
    """Import a bundle all-or-nothing: any invalid profile and nothing is stored."""
    from service.db.engine import session_scope
    from service.domain.bundles import import_draft, read_file
    from service.errors import TwinningError

    try:
        draft = read_file(file)
        with session_scope(_sessions()) as session:
            summary = import_draft(session=session, live=None, draft=draft, accepted_by="cli")
    except TwinningError as exc:
        _fail(exc)
    typer.echo(json.dumps(summary.model_dump()))


@app.command()
def export(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="file to write; default stdout")] = None,
) -> None:
    """Export everything stored as one bundle."""
    from service.db.engine import session_scope
    from service.domain.bundles import export_bundle

    with session_scope(_sessions()) as session:
        text = json.dumps(export_bundle(session=session), ensure_ascii=False, indent=2)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin, manager or member")],
    profile: Annotated[str | None, typer.Option(help="the profile a member key speaks for")] = None,
    name: Annotated[str | None, typer.Option(help="who holds the key")] = None,
) -> None:
    """Create an API key and print its secret (shown once)."""
    from service.auth import Role, create_key
    from service.db.engine import session_scope
    from service.errors import TwinningError

    try:
        with session_scope(_sessions()) as session:
            secret, _ = create_key(session, role=Role(role), profile_id=profile, name=name)
    except (TwinningError, ValueError) as exc:
        _fail(exc)
    typer.echo(secret)


@keys_app.command("list")
def keys_list(
    active: Annotated[bool, typer.Option("--active", help="leave revoked keys out")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines instead of a table")] = False,
) -> None:
    """List the keys (never their secrets): id, prefix, role, label, profile, created, revoked."""
    from service.db.engine import session_scope
    from service.domain import keys

    with session_scope(_sessions()) as session:
        rows = [keys.key_out(key) for key in keys.list_keys(session=session, include_revoked=not active)]
    if as_json:
        for row in rows:
            typer.echo(row.model_dump_json())
        return
    table = [("id", "prefix", "role", "label", "profile", "created", "revoked")] + [
        (
            str(k.id),
            k.prefix,
            k.role,
            k.label,
            k.profile_id or "-",
            k.created_at.strftime("%Y-%m-%d %H:%M"),
            k.revoked_at.strftime("%Y-%m-%d %H:%M") if k.revoked_at else "-",
        )
        for k in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="the key's id or prefix (as `twinning keys list` shows them)")],
) -> None:
    """Revoke a key: every request with it is refused at once, and its workspace sessions end."""
    from service.db.engine import session_scope
    from service.domain import keys
    from service.errors import TwinningError

    try:
        with session_scope(_sessions()) as session:
            found = keys.find_key(session=session, reference=key)
            already = found.revoked_at is not None
            revoked = keys.key_out(keys.revoke_key(session=session, key=found))
    except TwinningError as exc:
        _fail(exc)
    state = "was already revoked" if already else "revoked"
    typer.echo(f"key {revoked.id} ({revoked.prefix}, {revoked.role}, {revoked.label}) {state}")


@app.command()
def demo(
    bundle: Annotated[Path | None, typer.Option(help="bundle to load; default the World Cities EU-Korea demo")] = None,
) -> None:
    """Load the demo bundle and print a fresh manager key: what `make run` does before serving."""
    from service.auth import Role, create_key
    from service.db.engine import session_scope
    from service.domain.bundles import import_bundle, read_bundle_file

    settings = get_settings()
    path = bundle or settings.demo_bundle_path
    with session_scope(_sessions()) as session:
        summary = import_bundle(session=session, live=None, bundle=read_bundle_file(path), accepted_by="demo")
        secret, _ = create_key(session, role=Role.MANAGER, name="demo manager")
    typer.echo(
        f"Loaded {path.name}: {summary.profiles_created} new, {summary.profiles_updated} updated, "
        f"{summary.profiles_unchanged} unchanged profiles."
    )
    typer.echo(f"Manager API key: {secret}")
    typer.echo(f"Workspace: http://{settings.host}:{settings.port}/app  (sign in with the key)")
    typer.echo(f"API docs:  http://{settings.host}:{settings.port}/docs")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


@app.command()
def suggest(
    profile_id: Annotated[str, typer.Argument(help="the profile to find partners for")],
    target: Annotated[str, typer.Option(help="city or organisation")] = "city",
    k: Annotated[int, typer.Option(min=1, max=100)] = 10,
    bloc: Annotated[str | None, typer.Option(help="only this bloc")] = None,
    country: Annotated[str | None, typer.Option(help="only this country")] = None,
    org_type: Annotated[str | None, typer.Option(help="only this organisation type")] = None,
    diversity: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.0,
    include_partners: Annotated[bool, typer.Option(help="also suggest known partners")] = False,
    scope: Annotated[str, typer.Option(help="organisations: local (the asking city's own), national or any")] = "any",
) -> None:
    """Print a profile's suggestions as a table, with the best matched phrase pair of each and its reasons:
    what the API answers (the current run's list when it is newer than the profile, else scored live)."""
    from matching.scoring import Kind
    from service.domain.suggestions import suggestions_for
    from service.errors import TwinningError
    from service.live.index import LiveIndex, SuggestionRequest

    if scope not in ("local", "national", "any"):
        _fail(ValueError(f"--scope must be local, national or any, not {scope!r}"))
    sessions = _sessions()
    live = LiveIndex(settings=get_settings(), sessions=sessions)
    try:
        live.start()
        with sessions() as session:
            request = SuggestionRequest(Kind(target), k, bloc, country, org_type, diversity, include_partners, scope)
            listed = suggestions_for(
                session=session, live=live, principal=_operator(), profile_id=profile_id, ask=request
            )
    except (TwinningError, ValueError) as exc:
        _fail(exc)
    rows, notes = [], []
    for item in listed.items:
        best = next((m for m in item.matches if m.close), None)
        why = f"{best.need} ↔ {best.match} ({best.similarity:.2f})" if best else "no close match"
        back = "" if item.parts.backward is None else f"{item.parts.backward:.3f}"
        rows.append(
            [
                str(item.rank),
                item.id,
                item.name,
                item.bloc,
                f"{item.score:.3f}",
                f"{item.parts.forward:.3f}",
                back,
                f"{item.parts.lexical:.3f}",
                ", ".join(t.label for t in item.shared_themes[:3]),
                why,
            ]
        )
        notes.append(f"{item.rank}. {item.name}: " + "; ".join(item.reasons))
    typer.echo(
        _table(["#", "id", "name", "bloc", "score", "fwd", "back", "lex", "themes", "best matched phrases"], rows)
    )
    if notes:
        typer.echo("\nwhy:\n" + "\n".join(notes))
    typer.echo(f"\n{_source_line(listed)}")


def _evaluation_inputs(settings, encoder, tagger, bundle: Path | None = None):
    """The training bundles' queries (every candidate list scored), and the queries of `bundle`."""
    from service.domain.bundles import read_bundle_file
    from service.learning.training import bundle_queries, digest, training_bundles

    paths = training_bundles(settings.data_dir)
    sets = {p.name: bundle_queries(read_bundle_file(p), p.name, encoder, tagger) for p in paths}
    target = None
    if bundle is not None:
        trained = {p.name: digest(p) for p in paths}
        target = next((sets[name] for name, sha in trained.items() if sha == digest(bundle)), None)
        if target is None:
            target = bundle_queries(read_bundle_file(bundle), bundle.name, encoder, tagger)
    return paths, sets, target


@app.command("eval")
def eval_(
    bundle: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a bundle with partnerships and cohorts")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object (FORMATS.md)")] = False,
) -> None:
    """Measure suggestion quality on a bundle's known partnerships: the learned engine (leave one
    cohort out where the shipped weights saw the bundle) beside the hand-set score, TF-IDF and dense."""
    from embeddings import CachedEncoder, MemoryVectorCache, load_encoder
    from service.learning.evaluation import evaluate_bundle
    from service.learning.training import digest
    from service.live.recommenders import load_ranker, load_tagger

    settings = get_settings()
    encoder = CachedEncoder(
        load_encoder(settings.model, backend=settings.encoder_backend, export_root=settings.encoder_cache),
        MemoryVectorCache(),
    )
    tagger = load_tagger(settings.themes_path, encoder)
    shipped = load_ranker(settings.ranker_path)
    typer.echo(f"evaluating {bundle.name}", err=True)
    paths, sets, target = _evaluation_inputs(settings, encoder, tagger, bundle)
    # a bundle of data/eval is ranked leave-one-cohort-out by weights retrained on data/eval as it is
    trained_on_this = digest(bundle) in {digest(p) for p in paths}
    training = [q for bq in sets.values() for q in bq.queries]
    result, misses = evaluate_bundle(target, encoder, shipped, training, trained_on_this)
    result["bundle"] = bundle.name
    if as_json:
        sys.stdout.write(json.dumps(result) + "\n")
        return
    typer.echo(f"engine: {result['ranker']}")
    for section in ("cities", "organisations", "organisations_beyond_city"):
        block = result.get(section)
        if not block:
            continue
        names = list(next(iter(block["methods"].values())))
        rows = [[m, *(f"{v[n]:.3f}" for n in names)] for m, v in block["methods"].items()]
        typer.echo(f"\n{section} ({block['queries']} queries)\n" + _table(["method", *names], rows))
    for section, groups in result.get("ablation", {}).items():
        names = list(next(iter(groups.values())))
        rows = [[g, *(f"{v[n]:.3f}" for n in names)] for g, v in groups.items()]
        typer.echo(f"\nablation, {section} (engine retrained without each group)\n" + _table(["without", *names], rows))
    for label, block in result.get("cohort_pairing_methods", {}).items():
        if block:
            typer.echo(
                f"\ncohort pairing ({label}): optimal {block['recovered']}/{block['pairs']} ({block['rate']:.2f}), "
                f"top-1 {block['top1_recovered']}/{block['pairs']} ({block['top1_rate']:.2f})"
            )
    engine_misses = [m for m in misses if m.method == "engine"]
    if engine_misses:
        typer.echo("\nengine queries whose true partner is not first:")
        for m in engine_misses:
            typer.echo(f"  [{m.section}] {m.query}: {m.partner} at rank {m.rank}; above it: {', '.join(m.above)}")


@app.command()
def train(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="where to write the weights; default: the shipped data/ranker.json"),
    ] = None,
    feedback: Annotated[
        bool, typer.Option("--feedback", help="also learn from accepted and rejected suggestions in the database")
    ] = False,
) -> None:
    """Learn the ranker's weights from the real partnerships of data/eval/ (reproducible to the digit).

    With --feedback, the database's partnerships and rejections with a reason become training
    queries too (never a pair of the evaluation bundles), and the new weights are written only if
    leave-one-cohort-out figures on the evaluation bundles do not drop.
    """
    from embeddings import CachedEncoder, MemoryVectorCache, load_encoder
    from service.learning.training import train_ranker
    from service.live.recommenders import load_tagger

    settings = get_settings()
    encoder = CachedEncoder(
        load_encoder(settings.model, backend=settings.encoder_backend, export_root=settings.encoder_cache),
        MemoryVectorCache(),
    )
    tagger = load_tagger(settings.themes_path, encoder)
    paths, sets, _ = _evaluation_inputs(settings, encoder, tagger)
    extra = []
    if feedback:
        from service.learning.feedback import adopt_or_refuse, feedback_queries

        held_out = {frozenset((p.a, p.b)) for bq in sets.values() for p in bq.bundle.partnerships}
        with _sessions()() as session:
            extra = feedback_queries(session, encoder, tagger, held_out)
        typer.echo(f"{len(extra)} feedback queries from partnerships and rejections in the database", err=True)
    ranker = train_ranker(paths, list(sets.values()), model=encoder.name, extra=extra)
    target = output or settings.data_dir / "ranker.json"
    if feedback:
        verdict = adopt_or_refuse(list(sets.values()), extra)
        typer.echo(verdict.summary, err=True)
        if not verdict.adopted:
            raise typer.Exit(1)
    target.write_text(json.dumps(ranker.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    typer.echo(
        f"wrote {target}: {', '.join(f'{d} {n}' for d, n in ranker.meta['queries'].items())} queries, "
        f"match threshold {ranker.match_threshold}"
    )


runs_app = typer.Typer(help="Batch re-ranking runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


def _interval_seconds(text: str) -> float:
    """`90s`, `15m`, `6h`, `1d` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value, unit = text[:-1], text[-1:].lower()
    # ASCII digits only: str.isdigit accepts "²", which float refuses
    if unit not in units or re.fullmatch(r"[0-9]+(\.[0-9]+)?", value) is None or float(value) <= 0:
        raise typer.BadParameter(f"{text!r} is not an interval such as 30m, 6h or 1d")
    return float(value) * units[unit]


@app.command()
def rerank(
    every: Annotated[str | None, typer.Option(help="repeat at this interval (30m, 6h, 1d); default: run once")] = None,
    dask: Annotated[str | None, typer.Option(help="Dask scheduler address for the scoring blocks")] = None,
    k: Annotated[int | None, typer.Option(min=1, max=100, help="suggestions stored per profile and target")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
    run_id: Annotated[
        int | None, typer.Option(min=1, help="execute this queued run (how the server starts the runs it queues)")
    ] = None,
) -> None:
    """Re-rank every profile's suggestions (encoding only changed text) and store them as a run.

    The run yields the CPU to the server: it lowers its priority to `rerank_nice` before it starts a
    thread or a scoring worker, so all of them inherit it (a Dask cluster's workers are its own).
    """
    if run_id is not None and every:
        raise typer.BadParameter("--run-id executes one queued run; it cannot repeat with --every")
    settings = get_settings()
    _lower_priority(settings.rerank_nice)

    import time

    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from service.batch.jobs import ProgressReport, RerankParams
    from service.batch.jobs import rerank as run_rerank
    from service.errors import TwinningError

    interval = _interval_seconds(every) if every else None
    params = RerankParams.of(settings, k=k or settings.suggestions_k, dask_address=dask or settings.dask_address)
    # a run frozen inside a transaction must not hold its locks past the point it counts as dead
    sessions = _sessions(idle_in_transaction_timeout=settings.lock_stale_seconds)
    while True:
        columns = (
            TextColumn("{task.description:<9}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, disable=quiet, transient=False, console=None) as bar:
            tasks: dict[str, int] = {}

            def show(p: ProgressReport, tasks: dict[str, int] = tasks, bar: Progress = bar) -> None:
                if p.stage not in tasks:
                    tasks[p.stage] = bar.add_task(p.stage, total=p.total)
                bar.update(tasks[p.stage], completed=p.done, total=p.total)

            try:
                run = run_rerank(settings, sessions, params, report=show, run_id=run_id)
            except TwinningError as exc:
                if interval is None:
                    _fail(exc)
                typer.echo(f"error: {exc}", err=True)
                run = None
            except Exception as exc:  # the run row records it; a periodic loop goes on
                if interval is None:
                    raise
                typer.echo(f"run failed: {exc}", err=True)
                run = None
        if run is not None:
            c = run.counts
            typer.echo(
                f"run {run.id} succeeded: {c['profiles']} profiles, {c['encoded']} texts encoded, "
                f"{c['suggestions']} suggestions stored, {c['vectors_pruned']} cached vectors pruned; "
                f"seconds {c['seconds']}"
            )
        if interval is None:
            return
        time.sleep(interval)


def _lower_priority(nice: int) -> None:
    """Run this thread, and every thread and process it starts from now on, at niceness `nice` at least
    (Linux keeps a niceness per thread; a new thread or process takes its creator's). A process already
    nicer stays as it is."""
    if nice > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, nice)


@runs_app.command("list")
def runs_list(limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """The latest runs, newest first."""
    from service.domain.runs import list_runs

    with _sessions()() as session:
        rows = [
            [
                str(r.id),
                r.state,
                r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                r.finished_at.strftime("%H:%M:%S") if r.finished_at else "",
                str(r.counts.get("profiles", "")),
                str(r.counts.get("encoded", "")),
                str(r.counts.get("suggestions", "")),
                (r.params or {}).get("requested_by") or "",
                (r.error or "")[:60],
            ]
            for r in list_runs(session=session, limit=limit)
        ]
    columns = ["run", "state", "started", "finished", "profiles", "encoded", "suggestions", "by", "error"]
    typer.echo(_table(columns, rows))


@runs_app.command("diff")
def runs_diff(
    run_id: Annotated[int | None, typer.Argument(min=1, max=MAX_ROW_ID, help="default: the current run")] = None,
    against: Annotated[str, typer.Option(help="a run id or PREVIOUS")] = "PREVIOUS",
    profile: Annotated[str | None, typer.Option(help="only this profile")] = None,
) -> None:
    """What changed between two runs: suggestions that came in, left, or changed score, per profile."""
    from service.domain.runs import current_run, previous_run_id, run_diff
    from service.schemas import row_number

    if against.upper() != "PREVIOUS" and row_number(against) is None:
        raise typer.BadParameter(f"--against takes a run id or PREVIOUS, not {against!r}")
    with _sessions()() as session:
        current = current_run(session=session)
        run = run_id or (current.id if current else None)
        if run is None:
            _fail(ValueError("no succeeded run yet"))
        other = previous_run_id(session=session, run_id=run) if against.upper() == "PREVIOUS" else row_number(against)
        if other is None:
            _fail(ValueError(f"run {run} has no earlier succeeded run"))
        changes = run_diff(session=session, run_id=run, against=other, profile_id=profile)
    typer.echo(f"run {run} against run {other}: {len({c['profile'] for c in changes})} profiles changed")
    for c in changes:
        typer.echo(f"\n{c['profile']} → {c['target']}")
        for s in c["came_in"]:
            typer.echo(f"  + {s['id']} came in (rank {s['rank']}, {s['score']:.3f})")
        for s in c["left"]:
            typer.echo(f"  - {s['id']} left (was rank {s['rank']}, {s['score']:.3f})")
        for s in c["score_changed"]:
            arrow = "↑" if s["score"] > s["before"] else "↓"
            typer.echo(f"  {arrow} {s['id']} score {s['before']:.3f} → {s['score']:.3f} (rank {s['rank']})")


def _pair_option(values: list[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        a, sep, b = value.partition("=")
        if not sep or not a or not b:
            raise typer.BadParameter(f"{what} takes A=B, not {value!r}")
        pairs.append((a.strip(), b.strip()))
    return pairs


@app.command()
def pair(
    cohort: Annotated[str, typer.Argument(help="cohort id (see GET /cohorts)")],
    capacity: Annotated[list[str] | None, typer.Option(help="ID=N: a city may take N partners (default 1)")] = None,
    lock: Annotated[list[str] | None, typer.Option(help="A=B: an agreed pair to keep")] = None,
    forbid: Annotated[list[str] | None, typer.Option(help="A=B: a pair never to propose")] = None,
    min_score: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="leave a city unpaired rather than below this")
    ] = 0.0,
    ignore_partnerships: Annotated[bool, typer.Option(help="pair from scratch, ignoring known partnerships")] = False,
) -> None:
    """Pair a whole cohort at once and print the proposal, each city's regret and the unpaired: what the
    API's `POST /cohorts/{id}/pairing` answers."""
    from pydantic import ValidationError

    from service.domain.cohorts import get_cohort
    from service.domain.pairing import pairing_view
    from service.errors import TwinningError
    from service.live.index import LiveIndex
    from service.schemas import PairingRequest, row_number

    caps = {}
    for a, n in _pair_option(capacity or [], "--capacity"):
        if (count := row_number(n)) is None:
            raise typer.BadParameter(f"--capacity takes ID=N with N a whole number, not {a}={n}")
        caps[a] = count
    try:
        options = PairingRequest(
            capacity=caps,
            lock=[list(p) for p in _pair_option(lock or [], "--lock")],
            forbid=[list(p) for p in _pair_option(forbid or [], "--forbid")],
            min_score=min_score,
            partnerships="ignore" if ignore_partnerships else "auto",
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise typer.BadParameter(f"{where}: {problem['msg']} (got {problem.get('input')!r})") from None
    sessions = _sessions()
    live = LiveIndex(settings=get_settings(), sessions=sessions)
    try:
        live.start()
        with sessions() as session:
            proposal = pairing_view(
                session=session, live=live, cohort=get_cohort(session=session, cohort_id=cohort), options=options
            )
    except TwinningError as exc:
        _fail(exc)
    rows = []
    for p in proposal.pairs:
        best = p.matches[0] if p.matches else None
        rows.append(
            [
                p.a,
                p.b,
                f"{p.score:.3f}",
                "yes" if p.locked else "",
                ", ".join(t.label for t in p.shared_themes[:3]),
                f"{best.need} ↔ {best.match} ({best.similarity:.2f})" if best else "",
            ]
        )
    typer.echo(_table(["a", "b", "score", "locked", "themes", "best matched phrases"], rows))
    typer.echo(f"\ntotal {proposal.total:.3f} over {len(proposal.pairs)} pairs")
    if proposal.programme:
        typer.echo(f"programme {proposal.programme}")
    for w in proposal.second_partners:
        typer.echo(f"warning: {w.city} would take {w.partner} beside {', '.join(w.already)} in the programme")
    if proposal.regrets:
        typer.echo("\nregret (own best candidate went elsewhere):")
        for r in proposal.regrets:
            typer.echo(f"  {r.city}: best {r.best} ({r.best_score:.3f}), +{r.gap:.3f} over its own; {r.reason}")
    for city in proposal.unpaired:
        options_text = ", ".join(f"{o.id} ({o.score:.3f})" for o in city.best_options)
        typer.echo(f"unpaired {city.id}: {city.reason}; best options {options_text}")
