"""A read started now on a thread of its own, its result taken later (``Future.result()``).

For reads a screen can start before it is there to run a worker: the customer list's first page as
the app is built, the goals as Reports is built on its key. The thread is a daemon: a read still
running never keeps the process from exiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def read_ahead(read: Callable[[], T], name: str) -> Future[T]:
    """``read()`` on a new daemon thread called ``name``; its result, or its error, in the future."""
    found: Future[T] = Future()

    def run() -> None:
        try:
            found.set_result(read())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever takes the result: never lost here
            found.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return found
