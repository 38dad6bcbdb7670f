"""Asking whether the live index's lock is free, from another thread."""

import threading

from service.live.index import LiveIndex


def lock_is_free(live: LiveIndex) -> bool:
    """Whether another thread could take the live index's lock alone now: no one reads or writes under it."""
    taken: list[bool] = []

    def take() -> None:
        taken.append(live.lock.acquire_write(timeout=10))
        if taken[0]:
            live.lock.release_write()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return taken[0]
