"""Child processes started by the tests (the CLI, a sweep driver, a fresh interpreter).

:func:`run_child` is ``subprocess.run`` with a hang guard: a child still running after
:data:`CHILD_HANG_GUARD_S` is hung (a deadlock, not slowness), and the test fails saying so, with
what the child printed, instead of holding the suite until CI gives up.  It is a guard, not a
performance check: every child here finishes in seconds to a minute."""
from __future__ import annotations

import subprocess
from typing import Any

import pytest

#: seconds after which a child is taken as hung
CHILD_HANG_GUARD_S = 900


def run_child(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    """``subprocess.run(args, **kwargs)``, failing the test if the child does not exit within the guard."""
    kwargs.setdefault("timeout", CHILD_HANG_GUARD_S)
    try:
        return subprocess.run(args, **kwargs)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        pytest.fail(f"child {args[:4]} hung: no exit within {kwargs['timeout']} s\nstdout:\n{out[-2000:]}\n"
                    f"stderr:\n{err[-4000:]}")
