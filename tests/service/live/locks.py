"""Asking whether the live index's lock is free, from another thread (it is reentrant for the one asking)."""

import threading

from service.live.index import LiveIndex


def lock_is_free(live: LiveIndex) -> bool:
    """Whether another thread could take the live index's lock now."""
    taken: list[bool] = []

    def take() -> None:
        taken.append(live.mutex.acquire(timeout=10))
        if taken[0]:
            live.mutex.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return taken[0]
