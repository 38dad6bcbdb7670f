"""The live index's readers–writer lock: readers share it, a writer has it alone, and neither side starves."""

import threading
import time
from collections.abc import Callable

from service.live.rwlock import ReadWriteLock


def _until(condition: Callable[[], bool]) -> None:
    """Wait (up to a minute) until another thread has reached the state `condition` looks for."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.001)


def _start(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_readers_share_the_lock():
    lock = ReadWriteLock()
    inside = threading.Barrier(2, timeout=60)

    def read() -> None:
        with lock.reading():
            inside.wait()  # both readers are in at once, or this times out

    threads = [_start(read) for _ in range(2)]
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads) and not inside.broken


def test_the_readers_waiting_when_a_writer_finishes_go_before_the_next_writer():
    lock = ReadWriteLock()
    order: list[str] = []
    leave = {"R1": threading.Event(), "W1": threading.Event()}

    def enter(name: str, side: Callable) -> Callable[[], None]:
        def work() -> None:
            with side():
                order.append(name)
                if name in leave:
                    assert leave[name].wait(timeout=60)

        return work

    threads = [_start(enter("R1", lock.reading))]
    _until(lambda: order == ["R1"])
    threads.append(_start(enter("W1", lock.writing)))
    _until(lambda: lock._writers_waiting == 1)
    threads.append(_start(enter("R2", lock.reading)))  # a writer waits: this reader waits for it
    _until(lambda: lock._readers_waiting == 1)
    leave["R1"].set()
    _until(lambda: order == ["R1", "W1"])
    threads.append(_start(enter("W2", lock.writing)))
    _until(lambda: lock._writers_waiting == 1)
    threads.append(_start(enter("R3", lock.reading)))  # came after W2, but waits only for W1 too
    _until(lambda: lock._readers_waiting == 2)
    assert order == ["R1", "W1"]
    leave["W1"].set()
    for t in threads:
        t.join(timeout=60)
    assert order[:2] == ["R1", "W1"] and sorted(order[2:4]) == ["R2", "R3"] and order[4:] == ["W2"]


def test_a_writer_that_gives_up_lets_the_readers_waiting_for_it_in():
    lock = ReadWriteLock()
    order: list[str] = []
    release = threading.Event()

    def hold() -> None:
        with lock.reading():
            release.wait(timeout=60)

    holder = _start(hold)
    _until(lambda: lock._readers == 1)
    gave_up: list[bool] = []
    writer = _start(lambda: gave_up.append(lock.acquire_write(timeout=0.2)))

    def read() -> None:
        with lock.reading():
            order.append("R2")

    _until(lambda: lock._writers_waiting == 1)
    reader = _start(read)
    writer.join(timeout=60)
    reader.join(timeout=60)
    assert gave_up == [False] and order == ["R2"]  # in while R1 still reads
    release.set()
    holder.join(timeout=60)
    assert lock.acquire_write(timeout=60)
    lock.release_write()
