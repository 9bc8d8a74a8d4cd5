"""Process-level settings that make small training steps fast: the allocator and OpenMP.

**OpenMP.** With the default (active) wait policy, OpenMP threads spin while they
wait for work. When two trainings share a machine (a sweep in the background, a
test suite), spinning threads steal the cores that would do the work: measured
here, 5x slower. ``OMP_WAIT_POLICY=PASSIVE`` lets them sleep; grokkit sets it (if
unset) before torch is imported. It must be set before torch loads, so it has no
effect when torch was imported before grokkit. Sleeping costs each parallel region a
wake-up, which on a quiet machine makes one OpenMP team slower; grokkit's CPU batches
avoid teams altogether by splitting the runs across threads (:mod:`grokkit.engine.shards`).

**Allocator.** Keep glibc's allocator from returning memory to the OS after every step.

Training allocates and frees the same large buffers each step. With glibc's
default thresholds those buffers are mmap'ed and unmapped every time, and each
step page-faults hundreds of megabytes. Raising the trim threshold and the top
pad (and fixing the mmap threshold at its maximum) keeps the memory in the heap.
The same effect can be had before Python starts with the environment variables
``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_TOP_PAD_``; this
module does it when training starts (:func:`prepare`), so that notebooks and tests get it
too. Set ``GROKKIT_NO_MALLOC_TUNING=1`` to leave the allocator alone.

Buffers the training step keeps from step to step (:mod:`grokkit.engine.models`) stay
mapped whatever their size; the 32 MB threshold matters for what is allocated anew each step.

**Where.** :func:`prepare` runs once, when :mod:`grokkit.engine.trainer` is first imported (that
is, where training starts: a sweep imports the trainer only when it has runs to train), before
that module imports torch. Importing ``grokkit``, the store or the analyses changes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


#: True when grokkit, not the user, set ``OMP_WAIT_POLICY`` (a child process that should run as a
#: plain PyTorch script would, such as the benchmark's plain loop, leaves it out of its environment).
openmp_policy_set_here = False


def tune_openmp() -> None:
    """Default OpenMP threads to sleeping, not spinning, while they wait (see module docstring)."""
    global openmp_policy_set_here
    if "torch" not in sys.modules and "OMP_WAIT_POLICY" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        openmp_policy_set_here = True


def tune_malloc() -> bool:
    """Apply the allocator settings (glibc only); return True when they were applied."""
    if os.environ.get("GROKKIT_NO_MALLOC_TUNING") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)  # glibc's maximum on 64-bit
    ok &= mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    ok &= mallopt(_M_TOP_PAD, 1 << 30)
    return bool(ok)


_prepared = False


def prepare() -> None:
    """Tune OpenMP (if torch is not imported yet) and the allocator, once per process."""
    global _prepared
    if not _prepared:
        tune_openmp()
        tune_malloc()
        _prepared = True
