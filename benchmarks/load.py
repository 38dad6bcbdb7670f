"""Live answers while a batch run scores: eight HTTP clients against a real server, before, during
and after a run started through `POST /jobs/rerank`.

    python benchmarks/load.py --n 3000
    python benchmarks/load.py --n 100000
    python benchmarks/load.py --n 3000 --nice 0 --nice 10   # the run at the server's priority, then lower
    python benchmarks/load.py --n 3000 --database sqlite

Builds N synthetic profiles (phrases drawn from the benchmark vocabulary of real urban-cooperation
phrases, benchmarks/synthetic.py) in a PostgreSQL database of its own (made through `--postgres`,
dropped afterwards; or a SQLite file), with every vocabulary vector in the database's vector cache,
so neither the server's start nor the runs encode. Then, per `--nice` value, starts `twinning serve`
on 127.0.0.1 with `TWINNING_RERANK_NICE` set (the server itself at the niceness it was started
with), makes sure one run is current (unless `--no-setup-run`), and sets eight clients going, each
on a connection of its own, in threads of this process:

- four ask for suggestions in turn `source=live` and `source=batch`, for a random profile and target;
- four edit: read a profile of a shared set of 100 (so that editors collide), replace its interests
  with 3-5 vocabulary interests with `If-Match`, and on 412 read it again and retry.

Phases: idle for `--seconds`, a run started through the API until it finishes, idle again for
`--seconds`. Prints per phase the CPU the server's process had (a share of one core), the
suggestion p50/p99 (live and batch apart), acknowledged edits per second, retries after 412, and
every 5xx or failed connection; the live p99 during the run beside its target (≤ 3× the idle p99
before it); per stage of the run, the live p50/p99. Afterwards checks that no acknowledged edit is
lost (the database holds, per profile, the version and the interests of its last acknowledged
edit, and no two edits were acknowledged the same version), that the run succeeded and is the one
served as `source=batch`, and how many texts the edits encoded (rows the vector cache gained, plus
those the run pruned). The machine's load average is printed before and after: on shared cores the
figures are indicative.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import psutil
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from benchmarks.http_latency import _free_port
from benchmarks.rerank import database, populate
from benchmarks.synthetic import load_vocabulary
from service.auth import Role, create_key
from service.db.engine import make_engine, make_sessionmaker, session_scope
from service.db.models import CachedVector, Phrase, Profile

CLIENTS_PER_KIND = 4
HOT_PROFILES = 100  # the profiles editors share: a few collide, and retry on 412
TIMEOUT_S = 60.0


@dataclass
class Clock:
    """What the clients are inside of, read by each request as it starts."""

    phase: str = "idle"
    stage: str | None = None
    stop: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Record:
    phase: str
    stage: str | None
    kind: str  # live, batch, read, edit
    ms: float
    status: int  # 0: the request failed without an answer


@dataclass(frozen=True)
class Ack:
    profile_id: str
    version: int
    interests: tuple[str, ...]


def _timed(client: httpx.Client, clock: Clock, kind: str, out: list[Record], method: str, url: str, **kw):
    phase, stage = clock.phase, clock.stage
    start = time.perf_counter()
    try:
        response = client.request(method, url, **kw)
    except httpx.HTTPError:
        out.append(Record(phase, stage, kind, (time.perf_counter() - start) * 1000, 0))
        return None
    out.append(Record(phase, stage, kind, (time.perf_counter() - start) * 1000, response.status_code))
    return response


def _asker(base: str, secret: str, ids: list[str], seed: int, clock: Clock, out: list[Record]) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT_S) as client:
        turn = 0
        while not clock.stop.is_set():
            source = ("live", "batch")[turn % 2]
            turn += 1
            params = {"target": rng.choice(("city", "organisation")), "source": source}
            _timed(client, clock, source, out, "GET", f"/profiles/{rng.choice(ids)}/suggestions", params=params)


def _editor(
    base: str, secret: str, hot: list[str], interests: list[str], seed: int, clock: Clock, out: list[Record], acks
) -> None:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=TIMEOUT_S) as client:
        while not clock.stop.is_set():
            profile_id = rng.choice(hot)
            chosen = rng.sample(interests, rng.randint(3, 5))
            while not clock.stop.is_set():
                read = _timed(client, clock, "read", out, "GET", f"/profiles/{profile_id}")
                if read is None or read.status_code != 200:
                    break
                r = _timed(
                    client,
                    clock,
                    "edit",
                    out,
                    "PATCH",
                    f"/profiles/{profile_id}",
                    json={"interests": chosen},
                    headers={"If-Match": read.headers["ETag"]},
                )
                if r is not None and r.status_code == 200:
                    acks.append(Ack(profile_id, int(r.headers["ETag"].strip('"')), tuple(chosen)))
                if r is None or r.status_code != 412:
                    break


class Server:
    """`twinning serve` in a process of its own, on a free port of 127.0.0.1."""

    def __init__(self, url: str, nice: int, log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, TWINNING_DATABASE_URL=url, TWINNING_RERANK_NICE=str(nice))
        twinning = Path(sys.executable).with_name("twinning")
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [str(twinning), "serve", "--port", str(self.port)], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        start = time.perf_counter()
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}; see {log}")
            try:
                if httpx.get(f"{self.base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.start_seconds = time.perf_counter() - start

    def run_processes(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """CPU time the server's own process has had so far (a run's processes are not counted)."""
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def _run(server: Server, secret: str, clock: Clock | None = None) -> tuple[dict, set[int]]:
    """Start a run through the API and follow it to its end: its last job state, and the niceness
    of the run's processes (the run and its workers) as seen while it scored."""
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=TIMEOUT_S) as client:
        started = client.post("/jobs/rerank")
        if started.status_code != 202:
            raise RuntimeError(f"POST /jobs/rerank answered {started.status_code}: {started.text}")
        job_url, nice, shown = started.headers["Location"], set(), time.perf_counter()
        while (job := client.get(job_url).json())["state"] not in ("succeeded", "failed"):
            stage = (job.get("progress") or {}).get("stage")
            if time.perf_counter() - shown > 30:
                print(f"run {job['id']}: {job.get('progress')}", file=sys.stderr, flush=True)
                shown = time.perf_counter()
            if clock is not None:
                clock.stage = stage
            if stage == "scoring":
                for p in server.run_processes():
                    try:
                        nice.add(p.nice())
                    except psutil.NoSuchProcess:
                        pass
            time.sleep(0.25)
    return job, nice


def _progress(records: list[Record], phase: str, span: float) -> None:
    """A phase's figures as soon as it ends (on stderr), so a long measurement shows them before its table."""
    rows = [r for r in records if r.phase == phase]
    print(
        f"{phase} ({span:.0f} s): live {_cell(rows, 'live')}, batch {_cell(rows, 'batch')} ms p50 / p99 "
        f"(requests), edits acknowledged {sum(1 for r in rows if r.kind == 'edit' and r.status == 200)}, "
        f"5xx {sum(1 for r in rows if r.status >= 500)}, load average {os.getloadavg()[0]:.1f}",
        file=sys.stderr,
        flush=True,
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _cached_vectors(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(CachedVector))


def lost_edits(sessions, acks: list[Ack]) -> tuple[int, int]:
    """Acknowledged edits the database no longer shows though no later acknowledged edit replaced
    them; and profiles written after their last acknowledged edit by an unanswered request."""
    last: dict[str, Ack] = {}
    versions: dict[str, list[int]] = {}
    for ack in acks:
        versions.setdefault(ack.profile_id, []).append(ack.version)
        if ack.profile_id not in last or ack.version > last[ack.profile_id].version:
            last[ack.profile_id] = ack
    lost = sum(len(v) - len(set(v)) for v in versions.values())  # two writes acknowledged as one version
    unanswered = 0
    with sessions() as s:
        for profile_id, ack in last.items():
            version = s.scalar(select(Profile.version).where(Profile.id == profile_id))
            held = tuple(
                s.scalars(
                    select(Phrase.text)
                    .where(Phrase.profile_id == profile_id, Phrase.role == "interest")
                    .order_by(Phrase.position)
                )
            )
            if version is not None and version > ack.version:
                unanswered += 1
            elif version != ack.version or held != ack.interests:
                lost += sum(1 for a in acks if a.profile_id == profile_id and a.version == ack.version)
    return lost, unanswered


def measure(
    url: str, n: int, nice: int, seconds: float, secret: str, ids, hot, interests, workdir: Path, setup_run: bool
) -> dict:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    server = Server(url, nice, workdir / "server.log")
    try:
        headers = {"Authorization": f"Bearer {secret}"}
        current = httpx.get(f"{server.base}/runs", headers=headers, timeout=TIMEOUT_S).json()["items"]
        setup = None
        if setup_run and not any(r["state"] == "succeeded" for r in current):  # batch answers need a current run
            t = time.perf_counter()
            job, _ = _run(server, secret)
            if job["state"] != "succeeded":
                raise RuntimeError(f"the setup run failed: {job['error']}")
            setup = time.perf_counter() - t
        vectors_before = _cached_vectors(sessions)
        load_before = os.getloadavg()[0]
        clock, records, acks = Clock(), [], []
        threads = [
            threading.Thread(target=_asker, args=(server.base, secret, ids, 10 + i, clock, records))
            for i in range(CLIENTS_PER_KIND)
        ] + [
            threading.Thread(target=_editor, args=(server.base, secret, hot, interests, 20 + i, clock, records, acks))
            for i in range(CLIENTS_PER_KIND)
        ]
        spans, cpu = {}, {}
        for t in threads:
            t.start()
        begin, used = time.perf_counter(), server.cpu_seconds()
        time.sleep(seconds)
        spans["idle"], cpu["idle"] = time.perf_counter() - begin, server.cpu_seconds() - used
        _progress(records, "idle", spans["idle"])
        clock.phase, begin, used = "run", time.perf_counter(), server.cpu_seconds()
        job, run_nice = _run(server, secret, clock)
        spans["run"], cpu["run"] = time.perf_counter() - begin, server.cpu_seconds() - used
        _progress(records, "run", spans["run"])
        clock.phase, clock.stage, begin, used = "after", None, time.perf_counter(), server.cpu_seconds()
        time.sleep(seconds)
        spans["after"], cpu["after"] = time.perf_counter() - begin, server.cpu_seconds() - used
        clock.stop.set()
        for t in threads:
            t.join()
        load_after = os.getloadavg()[0]
        with httpx.Client(base_url=server.base, headers=headers, timeout=TIMEOUT_S) as client:
            served = client.get(f"/profiles/{ids[0]}/suggestions", params={"source": "batch"}).json().get("run_id")
            newest = max(r["id"] for r in client.get("/runs").json()["items"] if r["state"] == "succeeded")
        lost, unanswered = lost_edits(sessions, acks)
        encoded = _cached_vectors(sessions) - vectors_before + (job.get("counts") or {}).get("vectors_pruned", 0)
    finally:
        server.stop()
        engine.dispose()
    return {
        "n": n,
        "database": make_url(url).get_backend_name(),
        "nice": nice,
        "server_start": server.start_seconds,
        "setup_run": setup,
        "spans": spans,
        "cpu": cpu,
        "records": records,
        "acks": len(acks),
        "job": job,
        "run_nice": sorted(run_nice),
        "current": job["state"] == "succeeded" and served == job["id"] == newest,
        "lost": lost,
        "unanswered": unanswered,
        "encoded": encoded,
        "load": (load_before, load_after),
    }


def _cell(records: list[Record], kind: str) -> str:
    times = [r.ms for r in records if r.kind == kind and r.status == 200]
    if not times:
        return "–"
    return f"{statistics.median(times):.0f} / {_percentile(times, 0.99):.0f} ({len(times):,})"


def report(result: dict) -> None:
    records, spans = result["records"], result["spans"]
    job = result["job"]
    print(
        f"\nN = {result['n']:,} ({result['database']}), run niceness setting {result['nice']} "
        f"(seen on the run's processes while scoring: {result['run_nice'] or 'none'}); "
        f"server started in {result['server_start']:.0f} s"
        + (f", setup run {result['setup_run']:.0f} s" if result["setup_run"] else "")
    )
    header = (
        "| phase | seconds | server CPU | live p50 / p99 ms (requests) | batch p50 / p99 ms (requests) | edits/s "
        "| 412 retries | edit p50 / p99 ms | 5xx | failed connections |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    p99 = {}
    for phase in ("idle", "run", "after"):
        rows = [r for r in records if r.phase == phase]
        live = [r.ms for r in rows if r.kind == "live" and r.status == 200]
        p99[phase] = _percentile(live, 0.99) if live else float("nan")
        edits = [r for r in rows if r.kind == "edit"]
        acked = sum(1 for r in edits if r.status == 200)
        print(
            f"| {phase} | {spans[phase]:.0f} | {result['cpu'][phase] / spans[phase]:.0%} | {_cell(rows, 'live')} "
            f"| {_cell(rows, 'batch')} | {acked / spans[phase]:.1f} | {sum(1 for r in edits if r.status == 412)} "
            f"| {_cell(rows, 'edit')} "
            f"| {sum(1 for r in rows if r.status >= 500)} | {sum(1 for r in rows if r.status == 0)} |"
        )
    ratio = p99["run"] / p99["idle"]
    print(
        f"live p99 during the run / idle: {ratio:.2f}× (target ≤ 3×: {'met' if ratio <= 3 else 'NOT met'}); "
        f"after / idle: {p99['after'] / p99['idle']:.2f}×"
    )
    stages = list(dict.fromkeys(r.stage for r in records if r.phase == "run" and r.stage))
    if stages:
        print(
            "live p50 / p99 ms (requests) per stage of the run: "
            + "; ".join(
                f"{s} {_cell([r for r in records if r.phase == 'run' and r.stage == s], 'live')}" for s in stages
            )
        )
    other = sorted({r.status for r in records if r.status not in (200, 412)})
    seconds = (job.get("counts") or {}).get("seconds", {})
    print(
        f"run {job['id']} {job['state']} in {seconds.get('total', float('nan')):.0f} s "
        f"({', '.join(f'{k} {v:.0f}' for k, v in seconds.items() if k != 'total')}), current and served as "
        f"batch: {'yes' if result['current'] else 'NO'}; acknowledged edits {result['acks']:,}, lost "
        f"{result['lost']}, profiles written after their last acknowledged edit {result['unanswered']}; texts the "
        f"edits encoded: {result['encoded']}; other statuses: {other or 'none'}; load average (1 min) "
        f"{result['load'][0]:.1f} before the idle phase, {result['load'][1]:.1f} after the last",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3_000, help="profiles")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the idle phases before and after")
    parser.add_argument(
        "--nice", type=int, action="append", help="TWINNING_RERANK_NICE, one measurement each (default: 10)"
    )
    parser.add_argument(
        "--no-setup-run",
        action="store_true",
        help="no run before the first idle phase (there, batch answers are 404: no run is current yet)",
    )
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a URL of the PostgreSQL server where the benchmark's database is made and dropped",
    )
    args = parser.parse_args()
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}", flush=True)
    vocab = load_vocabulary()
    with tempfile.TemporaryDirectory() as tmp, database(args.database, args.n, Path(tmp), args.postgres) as url:
        t = time.perf_counter()
        profiles, phrases = populate(url, vocab, args.n)
        print(f"{args.n:,} profiles stored with their vectors cached in {time.perf_counter() - t:.0f} s", flush=True)
        ids = [p["id"] for p in profiles]
        hot = random.Random(0).sample(ids, min(HOT_PROFILES, len(ids)))
        interests = sorted({p["text"] for p in phrases if p["role"] == "interest"})
        engine = make_engine(url)
        with session_scope(make_sessionmaker(engine)) as session:
            secret, _ = create_key(session, role=Role.ADMIN)
        engine.dispose()
        for nice in args.nice or [10]:
            result = measure(
                url, args.n, nice, args.seconds, secret, ids, hot, interests, Path(tmp), not args.no_setup_run
            )
            report(result)
    print(f"\nload average after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
