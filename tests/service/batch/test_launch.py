"""Runs started through the API: a clean process of their own, and never a run stuck queued or running."""

import json
import os
import signal
import socket
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select, update

from service.batch import launch
from service.batch.jobs import RerankParams, rerank
from service.batch.run_lock import new_holder, take_lock
from service.db.models import JobLock, Run, utcnow
from service.errors import Conflict
from service.settings import Settings

DATA = Path(__file__).resolve().parents[3] / "data"
PROFILES = len(json.loads((DATA / "world-cities-eu-korea.json").read_text(encoding="utf-8"))["profiles"])


def _wait_until_finished(client, headers, run_id: int) -> dict:
    deadline = time.monotonic() + 120
    while (job := client.get(f"/jobs/{run_id}", headers=headers).json())["state"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def _holder(app, run_id: int) -> str | None:
    with app.state.sessions() as s:
        return s.scalar(select(Run.holder).where(Run.id == run_id))


def _socket_inodes(pid: int) -> set[str]:
    fds = f"/proc/{pid}/fd"
    links = []
    for fd in os.listdir(fds):
        try:
            links.append(os.readlink(f"{fds}/{fd}"))
        except FileNotFoundError:  # closed meanwhile
            pass
    return {link for link in links if link.startswith("socket:")}


def _caught_signals(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("SigCgt:")).split()[1], 16)


def test_a_run_started_through_the_api_runs_in_a_clean_process_of_its_own(app, demo, keys):
    h = keys.auth("manager")
    assert demo.post("/jobs/rerank", headers=keys.auth("member")).status_code == 403
    # what a server holds: a listening socket (inheritable, even) and its own SIGTERM handler
    listener = socket.create_server(("127.0.0.1", 0))
    os.set_inheritable(listener.fileno(), True)
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        r = demo.post("/jobs/rerank", headers=h)
        assert r.status_code == 202 and r.json()["state"] == "queued"
        run_id = r.json()["id"]
        assert r.headers["Location"] == f"/jobs/{run_id}"
        pid = int(_holder(app, run_id).split(":")[1])  # the spawned process, stamped on the queued run
        listening = f"socket:[{os.fstat(listener.fileno()).st_ino}]"
        assert pid != os.getpid() and os.getsid(pid) != os.getsid(0)
        assert listening not in _socket_inodes(pid)
        assert not _caught_signals(pid) & (1 << (signal.SIGTERM - 1))
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
    job = _wait_until_finished(demo, h, run_id)
    assert job["state"] == "succeeded", job
    assert job["progress"]["stage"] == "storing" and job["counts"]["profiles"] == PROFILES
    assert job["params"]["requested_by"]
    assert int(_holder(app, run_id).split(":")[1]) == pid  # the run itself ran there, under the lock
    assert demo.get("/runs", headers=h).json()["items"][0]["id"] == run_id


def test_a_run_whose_process_is_killed_is_failed_at_once_and_the_next_starts(app, demo, keys):
    h = keys.auth("manager")
    run_id = demo.post("/jobs/rerank", headers=h).json()["id"]
    os.kill(int(_holder(app, run_id).split(":")[1]), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:  # the server's reaper, not a reader: straight from the database
        with app.state.sessions() as s:
            run = s.get(Run, run_id)
        if run.state == "failed":
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "abandoned: the run's process was killed by SIGKILL" in run.error
    again = demo.post("/jobs/rerank", headers=h)
    assert again.status_code == 202
    assert _wait_until_finished(demo, h, again.json()["id"])["state"] == "succeeded"


def test_a_run_whose_process_cannot_start_is_failed_with_the_error_and_blocks_nothing(app, demo, keys, monkeypatch):
    h = keys.auth("manager")

    def no_process(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(launch.subprocess, "Popen", no_process)
    r = demo.post("/jobs/rerank", headers=h)
    assert r.status_code == 202
    failed = demo.get(r.headers["Location"], headers=h).json()
    assert failed["state"] == "failed" and "could not be started" in failed["error"]
    assert "Resource temporarily unavailable" in failed["error"]
    monkeypatch.undo()
    again = demo.post("/jobs/rerank", headers=h)
    assert again.status_code == 202
    assert _wait_until_finished(demo, h, again.json()["id"])["state"] == "succeeded"


def test_an_in_memory_database_cannot_be_shared_with_a_run_process():
    with pytest.raises(ValueError, match="in-memory"):
        launch.settings_environment(Settings(database_url="sqlite://"))


def test_a_run_process_gets_the_servers_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINNING_DASK_ADDRESS", "tcp://somewhere:8786")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'twinning.db'}", keep_runs=3, dask_address=None)
    env = launch.settings_environment(settings)
    assert env["TWINNING_DATABASE_URL"] == settings.database_url and env["TWINNING_KEEP_RUNS"] == "3"
    assert "TWINNING_DASK_ADDRESS" not in env  # the server's settings say none, whatever its environment said
    monkeypatch.delenv("TWINNING_DASK_ADDRESS")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == settings  # what the run's process reads


def _add_run(app, **values) -> int:
    with app.state.sessions() as s:
        run = Run(model_id="", params={}, **values)
        s.add(run)
        s.commit()
        return run.id


def _lock_held_by(app, holder: str, heartbeat: datetime) -> None:
    take_lock(app.state.sessions, holder, stale_after=300)
    with app.state.sessions() as s:
        s.execute(update(JobLock).values(heartbeat_at=heartbeat))
        s.commit()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_queued_run_whose_process_died_is_failed_when_runs_are_read(app, demo, keys):
    h = keys.auth("manager")
    dead = _add_run(app, state="queued", holder=new_holder(pid=_dead_pid()))
    alive = _add_run(app, state="queued", holder=new_holder())  # this process: alive
    job = demo.get(f"/jobs/{dead}", headers=h).json()
    assert job["state"] == "failed" and "abandoned: the process started for it" in job["error"]
    assert demo.get(f"/jobs/{alive}", headers=h).json()["state"] == "queued"
    assert demo.post("/jobs/rerank", headers=h).status_code == 409  # a live run is queued


def test_a_queued_run_nobody_picked_up_is_failed_by_the_next_start(app, demo, keys):
    """As after a server died between queueing a run and starting its process."""
    h = keys.auth("manager")
    orphan = _add_run(app, state="queued", holder=None, started_at=utcnow() - timedelta(hours=1))
    # a reader cannot tell whether a process is about to pick it up
    assert demo.get("/runs", headers=h).json()["items"][0]["state"] == "queued"
    r = demo.post("/jobs/rerank", headers=h)
    assert r.status_code == 202
    job = demo.get(f"/jobs/{orphan}", headers=h).json()
    assert job["state"] == "failed" and "no process picked it up" in job["error"]
    assert _wait_until_finished(demo, h, r.json()["id"])["state"] == "succeeded"


def test_a_running_run_that_lost_its_lock_is_failed_when_runs_are_read(app, demo, keys):
    h = keys.auth("manager")
    lost = _add_run(app, state="running", holder="elsewhere:1:lost")
    _lock_held_by(app, "elsewhere:2:taker", utcnow())
    items = {r["id"]: r for r in demo.get("/runs", headers=h).json()["items"]}
    assert items[lost]["state"] == "failed" and "lost its lock (now held by elsewhere:2:taker)" in items[lost]["error"]
    assert demo.post("/jobs/rerank", headers=h).status_code == 409  # the taker is alive


def test_a_running_run_whose_lock_went_silent_is_failed_by_the_next_start(app, demo, keys):
    h = keys.auth("manager")
    silent = _add_run(app, state="running", holder="elsewhere:1:silent")
    _lock_held_by(app, "elsewhere:1:silent", utcnow() - timedelta(hours=1))
    assert demo.get(f"/jobs/{silent}", headers=h).json()["state"] == "running"  # maybe only slow to answer
    r = demo.post("/jobs/rerank", headers=h)
    assert r.status_code == 202
    job = demo.get(f"/jobs/{silent}", headers=h).json()
    assert job["state"] == "failed" and "no heartbeat from elsewhere:1:silent" in job["error"]
    assert _wait_until_finished(demo, h, r.json()["id"])["state"] == "succeeded"


def test_a_run_process_ends_only_its_own_run_and_begins_only_a_run_queued_for_it(app, demo):
    """Run ids are reused when tables are emptied (as between tests): the watcher of a process that ends
    must not fail a run another process owns, and `--run-id N` must not take a run queued for another."""
    child = subprocess.Popen(["true"])
    other = _add_run(app, state="queued", holder=new_holder())  # queued for this process, not the child
    launch._reap(child, app.state.sessions, other)
    with app.state.sessions() as s:
        assert s.get(Run, other).state == "queued"
    theirs = _add_run(app, state="queued", holder=new_holder(pid=_dead_pid()))
    with pytest.raises(Conflict, match="not queued for this process"):
        rerank(app.state.settings, app.state.sessions, RerankParams.of(app.state.settings), run_id=theirs)
    assert rerank(app.state.settings, app.state.sessions, RerankParams.of(app.state.settings), run_id=other).state == (
        "succeeded"
    )


def _nice_of_threads(pid: int) -> set[int]:
    """The niceness of each of the process's threads (Linux keeps one per thread)."""
    values = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            values.add(os.getpriority(os.PRIO_PROCESS, int(tid)))
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            pass
    return values


def test_a_spawned_run_and_its_scoring_workers_run_at_the_configured_niceness(app, demo, keys, settings):
    h = keys.auth("manager")
    settings.rerank_nice, settings.rerank_workers, settings.rerank_block_size = 7, 2, 8  # several blocks: a pool
    run_id = demo.post("/jobs/rerank", headers=h).json()["id"]
    run = psutil.Process(int(_holder(app, run_id).split(":")[1]))
    deadline = time.monotonic() + 60
    while run.nice() != 7:  # the interpreter lowers its priority first thing in `rerank`
        assert time.monotonic() < deadline and run.is_running()
        time.sleep(0.01)
    seen, workers = set(), set()
    while run.is_running() and run.status() != psutil.STATUS_ZOMBIE:
        try:
            children = run.children(recursive=True)
            seen |= _nice_of_threads(run.pid)
            for child in children:
                seen |= _nice_of_threads(child.pid)
                workers.add(child.pid)
        except (psutil.NoSuchProcess, FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.01)
    assert _wait_until_finished(demo, h, run_id)["state"] == "succeeded"
    assert workers, "the run forked no scoring worker to look at"
    assert seen == {7}
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # the server (this process) keeps its priority
