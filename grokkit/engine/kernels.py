"""Fused CPU kernels for the training step, compiled on first use.

On the CPU, a step of paper 1's MLP spends most of its time in matrix products that already
run near the machine's peak; much of the rest goes to passes over the ``[M, H]`` hidden
activations (the embedding sum, GELU, its derivative, the scatter back into the embedding
table), the softmax and the optimizer, each a separate torch operation that reads and writes
memory again. ``grokkit/engine/kernels.cpp`` does each group in one pass (its header lists them);
``python -m grokkit.bench`` prints what that gains.

The kernels are C++ built with ``torch.utils.cpp_extension`` the first time a process needs
them (about 20 s, once per machine: the build is kept under ``~/.cache/grokkit``, or
``$TORCH_EXTENSIONS_DIR``; deleting it is always safe), for the CPU capability torch uses
(AVX-512, AVX2 or none). They need a C++ compiler and ``ninja`` (a Python package in
``requirements.txt``). Processes that start at once build them once, one waiting for the other; a
build killed half-way is started again by the next process. Where the build
fails, grokkit warns once, saying why, and trains with plain torch operations: the same runs,
to float rounding (``tests/test_fast_step.py`` checks both ways), only slower.
``GROKKIT_KERNELS=0`` turns the kernels off; ``GROKKIT_KERNELS=1`` (the default) uses them
where they apply.

- :func:`compiled` returns the compiled module, or ``None`` where the kernels are off or
  could not be built;
- :func:`for_mlp_step` returns them where the MLP's hidden-layer and loss kernels apply
  (float32 on the CPU; float64 runs keep torch's exact ``erf``), else ``None``;
- :func:`for_tensors` returns them where the AdamW and squared-norm kernels apply to some
  tensors (float32 or float64, one dtype, contiguous, on the CPU), else ``None``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import Iterator

import torch

SOURCE = Path(__file__).with_name("kernels.cpp")

_FLAGS = {  # what torch's own kernels are compiled for, by capability
    "AVX512": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mfma", "-DCPU_CAPABILITY_AVX512",
               "-DCPU_CAPABILITY=AVX512"],
    "AVX2": ["-mavx2", "-mfma", "-DCPU_CAPABILITY_AVX2", "-DCPU_CAPABILITY=AVX2"],
}

_lock = threading.Lock()
_state: dict[str, ModuleType | None] = {}


def wanted() -> bool:
    """Whether ``GROKKIT_KERNELS`` asks for the kernels (unset: yes)."""
    value = os.environ.get("GROKKIT_KERNELS", "1").strip()
    if value not in ("0", "1"):
        raise ValueError(f"GROKKIT_KERNELS: must be 0 (off) or 1 (on), got {value!r}")
    return value == "1"


def build_directory(capability: str) -> Path:
    """Where the kernels are built for ``capability``: one folder per source, flags, torch version
    and Python version (the module is built against both)."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "grokkit")
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    tag = hashlib.sha256(SOURCE.read_bytes() + " ".join(_FLAGS.get(capability, [])).encode()
                         + torch.__version__.encode()).hexdigest()[:12]
    return Path(root) / f"kernels-{python}-{capability.lower()}-{tag}"


def compiled() -> ModuleType | None:
    """The compiled kernels (built on the first call in a machine, loaded on the first in a
    process), or ``None`` where ``GROKKIT_KERNELS=0`` or the build failed (with a warning)."""
    if not wanted():
        return None
    if "module" in _state:
        return _state["module"]
    with _lock:
        if "module" not in _state:
            _state["module"] = _build()
    return _state["module"]


def _build() -> ModuleType | None:
    capability = torch.backends.cpu.get_cpu_capability()
    folder = build_directory(capability)
    # one module name per source and flags: torch renames a module ("_v1") whose sources change
    # within a process, and the next process would then rebuild it under its old name
    name = "grokkit_" + folder.name.replace("-", "_")
    try:
        from torch.utils import cpp_extension

        if shutil.which("ninja") is None:  # the ninja package's binary, where its venv is not on PATH
            import ninja

            os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
        folder.mkdir(parents=True, exist_ok=True)
        with _machine_lock(folder):
            (folder / "lock").unlink(missing_ok=True)  # torch's own lock, left behind by a killed build
            if not (folder / f"{name}.so").exists():
                print("grokkit: compiling its fused CPU kernels (once per machine, about 20 s)", file=sys.stderr,
                      flush=True)
            return cpp_extension.load(name, [str(SOURCE)], extra_cflags=["-O3", *_FLAGS.get(capability, [])],
                                      build_directory=str(folder), verbose=False)
    except Exception as err:  # no compiler, no ninja, a read-only home: fall back, loudly
        reason = " ".join(str(err).split())
        reason = reason if len(reason) < 400 else reason[:150] + " ... " + reason[-250:]
        warnings.warn(f"grokkit: the fused CPU kernels could not be built ({type(err).__name__}: {reason}); "
                      "training goes on with plain torch operations: the same runs to float rounding, slower. "
                      "Set GROKKIT_KERNELS=0 to skip the attempt.", RuntimeWarning, stacklevel=3)
        return None


@contextlib.contextmanager
def _machine_lock(folder: Path) -> Iterator[None]:
    """One process at a time builds or loads the kernels in ``folder``. The operating system
    releases the lock when its holder dies, so a build killed half-way (a stopped sweep) never
    leaves the next process waiting, as torch's own lock file would."""
    with open(folder / "grokkit.lock", "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: torch's own lock file only
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def for_mlp_step(t: torch.Tensor) -> ModuleType | None:
    """The kernels, where the MLP's hidden-layer and cross-entropy kernels apply to a step on
    ``t``'s device and dtype (float32 on the CPU) and are available; else ``None``."""
    return compiled() if t.device.type == "cpu" and t.dtype == torch.float32 else None


def for_tensors(*tensors: torch.Tensor) -> ModuleType | None:
    """The kernels, where the AdamW update and the squared norms apply to ``tensors`` (float32
    or float64, all of one dtype, contiguous, on the CPU) and are available; else ``None``."""
    dtype = tensors[0].dtype
    if dtype in (torch.float32, torch.float64) and all(
            t.device.type == "cpu" and t.dtype == dtype and t.is_contiguous() for t in tensors):
        return compiled()
    return None
