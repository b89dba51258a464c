"""Ctrl-C that is never lost: status 130 even when Python swallows the first KeyboardInterrupt.

Python drops an exception raised where it cannot propagate: in a weakref callback or a ``__del__``
(it prints "Exception ignored in ..." and goes on). A Ctrl-C that lands there while torch imports is
lost, and the command runs to its end with status 0 (seen on Python 3.13). Our SIGINT handler
therefore raises KeyboardInterrupt and, until ``handled()`` says the command has stopped, re-delivers
it every 0.2 s from a helper thread (``_thread.interrupt_main`` runs the handler again in the main
thread). A SIGINT that the parent ignores (a shell's background job, ``nohup``) stays ignored.
"""
from __future__ import annotations

import _thread
import signal
import threading
import time
from typing import Any

REDELIVER_EVERY_S = 0.2
REDELIVER_FOR_S = 10.0
_pending = threading.Event()


def install() -> Any:
    """Put our handler in place of Python's default one; returns the handler it replaced (to restore)."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)
    return previous


def restore(previous: Any) -> None:
    """Put ``previous`` (what ``install`` returned) back, if our handler is still the one in place."""
    if signal.getsignal(signal.SIGINT) is _on_sigint and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, previous)


def handled() -> None:
    """The interrupt reached the command's end: stop re-delivering it."""
    _pending.clear()


def _on_sigint(signum: int, frame: Any) -> None:
    if not _pending.is_set():
        _pending.set()
        threading.Thread(target=_redeliver, name="snn-deploy-sigint", daemon=True).start()
    raise KeyboardInterrupt


def _redeliver() -> None:
    deadline = time.monotonic() + REDELIVER_FOR_S
    while time.monotonic() < deadline:
        time.sleep(REDELIVER_EVERY_S)
        if not _pending.is_set():
            return
        _thread.interrupt_main()
