"""Ctrl-C is never lost: a KeyboardInterrupt that Python swallows (raised in a ``__del__`` or a weakref
callback, as happened during torch's import on Python 3.13) is delivered again until the command stops."""
import signal
import subprocess
import sys

SWALLOWED = """
import os, signal, time
from snn_deploy import interrupt
interrupt.install()

class RaisesInDel:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)   # the handler runs here; Python ignores what __del__ raises
        for _ in range(1000):
            pass

try:
    RaisesInDel()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.01)
    print("lost")
except KeyboardInterrupt:
    interrupt.handled()
    print("delivered")
"""


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_a_swallowed_keyboard_interrupt_is_delivered_again():
    proc = run(SWALLOWED)
    assert "Exception ignored" in proc.stderr and "KeyboardInterrupt" in proc.stderr, proc.stderr  # guard
    assert proc.stdout.strip() == "delivered", proc.stdout + proc.stderr


def test_without_our_handler_python_loses_it():
    """The same code with Python's own handler: the interrupt is gone (why snn_deploy.interrupt exists)."""
    proc = run(SWALLOWED.replace("interrupt.install()", "pass"))
    assert "Exception ignored" in proc.stderr and proc.stdout.strip() == "lost", proc.stdout + proc.stderr


def test_an_ignored_sigint_stays_ignored():
    """A background job (SIGINT ignored by its parent) keeps it ignored: install changes nothing."""
    code = ("import signal\nfrom snn_deploy import interrupt\nprevious = interrupt.install()\n"
            "print(previous is signal.SIG_IGN, signal.getsignal(signal.SIGINT) is signal.SIG_IGN)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.stdout.split() == ["True", "True"], proc.stdout + proc.stderr
