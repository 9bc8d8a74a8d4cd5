"""Fused CPU kernels for the training step, compiled on first use.

On the CPU, a step of paper 1's MLP spends most of its time in matrix products that already
run near the machine's peak; much of the rest goes to passes over the ``[M, H]`` hidden
activations (the embedding sum, GELU, its derivative, the scatter back into the embedding
table), the softmax and the optimizer, each a separate torch operation that reads and writes
memory again. The attention models' and the encoder's steps have the same shape: their per-example
attention (a softmax over two or three positions, values gathered from per-token tables), its
residual and LayerNorms and their backward would be dozens of small torch operations.
``grokkit/engine/kernels.cpp`` does each group in one pass (its header lists them);
``python -m grokkit.bench`` prints what that gains.

The kernels are C++ built with ``torch.utils.cpp_extension`` the first time a process needs
them (about 20 s, once per machine: the build is kept under ``~/.cache/grokkit``, or
``$TORCH_EXTENSIONS_DIR``; deleting it is always safe), for the CPU capability torch uses
(AVX-512, AVX2 or none). They need a C++ compiler and ``ninja`` (a Python package in
``requirements.txt``). Processes that start at once build them once, one waiting for the other; a
build killed half-way is started again by the next process. Where the build
fails, grokkit warns once, saying why, and trains with plain torch operations: the same runs,
to float rounding (``tests/engine/test_fast_step.py`` checks both ways), only slower.
``GROKKIT_KERNELS=0`` turns the kernels off; ``GROKKIT_KERNELS=1`` (the default) uses them
where they apply.

- :func:`compiled` returns the compiled module, or ``None`` where the kernels are off or
  could not be built;
- :func:`for_mlp_step` returns them where the MLP's hidden-layer and loss kernels and the GELU
  passes apply (float32 on the CPU; float64 runs keep torch's exact ``erf``), else ``None``;
- :func:`for_tensors` returns them where the AdamW and squared-norm kernels apply to some
  tensors (float32 or float64, one dtype, contiguous, on the CPU), else ``None``;
- :func:`for_step` returns the kernels of the attention models' and the encoder's hand-written
  steps (float32 or float64 on the CPU) where they are available, else :data:`TORCH_KERNELS`,
  the same functions written with torch operations (the switch back, and the reference the
  kernels are tested against). The GELU pass stays float32-only (:func:`for_mlp_step`).
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


def for_step(t: torch.Tensor) -> ModuleType | TorchKernels:
    """The attention models' and the encoder's step kernels for a step on ``t``'s device and dtype:
    the compiled ones (float32 or float64, on the CPU) where available, else :data:`TORCH_KERNELS`."""
    module = compiled() if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64) else None
    return module if module is not None else TORCH_KERNELS


def for_tensors(*tensors: torch.Tensor) -> ModuleType | None:
    """The kernels, where the AdamW update and the squared norms apply to ``tensors`` (float32
    or float64, all of one dtype, contiguous, on the CPU) and are available; else ``None``."""
    dtype = tensors[0].dtype
    if dtype in (torch.float32, torch.float64) and all(
            t.device.type == "cpu" and t.dtype == dtype and t.is_contiguous() for t in tensors):
        return compiled()
    return None


# ---------------------------------------------------------------- the step kernels in torch operations
def _gather(table: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``out[k, m] = table[k, idx[k, m]]`` for ``table [K, R, ...]`` and ``idx [K, Mh]``."""
    k, r = table.shape[:2]
    offsets = (torch.arange(k, device=idx.device) * r).unsqueeze(1)
    flat = table.reshape(k * r, *table.shape[2:])
    return flat.index_select(0, (idx + offsets).reshape(-1)).view(*idx.shape, *table.shape[2:])


def _scatter_add(out: torch.Tensor, idx: torch.Tensor, values: torch.Tensor) -> None:
    """``out[k, idx[k, m]] += values[k, m]`` for ``out [K, R, ...]`` (contiguous), ``idx [K, Mh]``."""
    k, r = out.shape[:2]
    offsets = (torch.arange(k, device=idx.device) * r).unsqueeze(1)
    out.view(k * r, *out.shape[2:]).index_add_(0, (idx + offsets).reshape(-1),
                                              values.reshape(-1, *out.shape[2:]))


def _ln(x: torch.Tensor, xhat: torch.Tensor, rstd: torch.Tensor) -> None:
    """``xhat = (x - mean) rstd`` over the last axis (biased variance, eps 1e-5)."""
    var, mean = torch.var_mean(x, dim=-1, unbiased=False, keepdim=True)
    r = (var + 1e-5).rsqrt()
    torch.mul(x - mean, r, out=xhat)
    rstd.copy_(r.squeeze(-1))


def _ln_back(g: torch.Tensor, xhat: torch.Tensor, rstd: torch.Tensor) -> torch.Tensor:
    """LayerNorm's backward without its affine part, from ``g``, the gradient of ``xhat``."""
    return rstd.unsqueeze(-1) * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))


class TorchKernels:
    """The step kernels of ``kernels.cpp`` (``attn_forward`` ... ``loss_sum``) written with torch
    operations, with the same arguments and results: what ``GROKKIT_KERNELS=0`` trains with, and
    the reference ``tests/engine/test_kernels.py`` holds the kernels to."""

    @staticmethod
    def attn_forward(S, VO, eq, rows, layernorm, resid, w, n1, rstd):
        k, mh = rows.shape[:2]
        r, h = S.shape[1:]
        ra, rb = rows[..., 0], rows[..., 1]
        scores = torch.stack([_gather(S, ra), _gather(S, rb), S[:, r - 1].unsqueeze(1).expand(k, mh, h)], dim=-1)
        w.copy_(scores.softmax(dim=-1))
        vor = VO.transpose(1, 2)  # [K, R, H, D]
        attn = (w[..., 0:1] * _gather(vor, ra) + w[..., 1:2] * _gather(vor, rb)
                + w[..., 2:3] * vor[:, r - 1].unsqueeze(1)).sum(dim=2)
        torch.add(eq.unsqueeze(1), attn, out=resid)
        if layernorm:
            _ln(resid, n1, rstd)

    @staticmethod
    def attn_backward(dr2, dn1, n1, rstd, w, rows, VO, layernorm, deq, dS, dVO):
        r = VO.shape[2]
        g = dr2 + (_ln_back(dn1, n1, rstd) if layernorm else dn1)  # [K, Mh, D]
        deq.copy_(g.sum(dim=1))
        vor = VO.transpose(1, 2)
        ra, rb = rows[..., 0], rows[..., 1]
        ge = g.unsqueeze(2)
        dw = torch.stack([(_gather(vor, ra) * ge).sum(-1), (_gather(vor, rb) * ge).sum(-1),
                          (vor[:, r - 1].unsqueeze(1) * ge).sum(-1)], dim=-1)  # [K, Mh, H, 3]
        ds = w * (dw - (w * dw).sum(-1, keepdim=True))
        dS.zero_()
        _scatter_add(dS, ra, ds[..., 0])
        _scatter_add(dS, rb, ds[..., 1])
        dS[:, r - 1] += ds[..., 2].sum(dim=1)
        dvor = vor.new_zeros(vor.shape)  # [K, R, H, D], contiguous
        _scatter_add(dvor, ra, w[..., 0:1] * ge)
        _scatter_add(dvor, rb, w[..., 1:2] * ge)
        dvor[:, r - 1] += (w[..., 2:3] * ge).sum(dim=1)
        dVO.copy_(dvor.transpose(1, 2))

    @staticmethod
    def enc_forward(Q, Kt, s11, VO, X, bo, g1, h1, ab, scale, y, yhat, rstd, w):
        k, mh = ab.shape[:2]
        p, d = Q.shape[1:]
        h = s11.shape[2]
        a, b = ab[..., 0], ab[..., 1]
        qb = _gather(Q, b).view(k, mh, h, d // h)
        s0 = (qb * _gather(Kt, a).view(k, mh, h, d // h)).sum(-1) / scale
        w.copy_(torch.stack([s0, _gather(s11, b)], dim=-1).softmax(dim=-1))
        vor = VO.transpose(1, 2)  # [K, 2P, H, D]
        attn = (w[..., 0:1] * _gather(vor, a) + w[..., 1:2] * _gather(vor, b + p)).sum(dim=2)
        _ln(_gather(X, b + p) + bo.unsqueeze(1) + attn, yhat, rstd)
        torch.addcmul(h1.unsqueeze(1), yhat, g1.unsqueeze(1), out=y)

    @staticmethod
    def enc_backward(dy, yhat, rstd, w, ab, Q, Kt, VO, g1, scale, dg1, dh1, dbo, dx1, dQ, dKt, ds11, dVO):
        k, mh = ab.shape[:2]
        p, d = Q.shape[1:]
        h = VO.shape[1]
        a, b = ab[..., 0], ab[..., 1]
        dg1.copy_((dy * yhat).sum(dim=1))
        dh1.copy_(dy.sum(dim=1))
        dr = _ln_back(dy * g1.unsqueeze(1), yhat, rstd)
        dbo.copy_(dr.sum(dim=1))
        dx1.zero_()
        _scatter_add(dx1, b, dr)
        vor = VO.transpose(1, 2)
        ge = dr.unsqueeze(2)
        dw0, dw1 = (_gather(vor, a) * ge).sum(-1), (_gather(vor, b + p) * ge).sum(-1)  # [K, Mh, H]
        mean = w[..., 0] * dw0 + w[..., 1] * dw1
        ds0 = w[..., 0] * (dw0 - mean) / scale
        ds11.zero_()
        _scatter_add(ds11, b, w[..., 1] * (dw1 - mean))
        dvor = vor.new_zeros(vor.shape)
        _scatter_add(dvor, a, w[..., 0:1] * ge)
        _scatter_add(dvor, b + p, w[..., 1:2] * ge)
        dVO.copy_(dvor.transpose(1, 2))
        qb = _gather(Q, b).view(k, mh, h, d // h)
        ka = _gather(Kt, a).view(k, mh, h, d // h)
        dQ.zero_()
        _scatter_add(dQ, b, (ds0.unsqueeze(-1) * ka).view(k, mh, d))
        dKt.zero_()
        _scatter_add(dKt, a, (ds0.unsqueeze(-1) * qb).view(k, mh, d))

    @staticmethod
    def ln2f_forward(r2, c2, g2, h2, gf, hf, z2hat, rstd2, zfhat, rstdf, zf):
        _ln(r2 + c2.unsqueeze(1), z2hat, rstd2)
        _ln(z2hat * g2.unsqueeze(1) + h2.unsqueeze(1), zfhat, rstdf)
        torch.addcmul(hf.unsqueeze(1), zfhat, gf.unsqueeze(1), out=zf)

    @staticmethod
    def ln2f_backward(dzf, z2hat, rstd2, zfhat, rstdf, g2, gf, dr2, dgf, dhf, dg2, dh2, dc2):
        dgf.copy_((dzf * zfhat).sum(dim=1))
        dhf.copy_(dzf.sum(dim=1))
        dz2 = _ln_back(dzf * gf.unsqueeze(1), zfhat, rstdf)
        dg2.copy_((dz2 * z2hat).sum(dim=1))
        dh2.copy_(dz2.sum(dim=1))
        dr2.copy_(_ln_back(dz2 * g2.unsqueeze(1), z2hat, rstd2))
        dc2.copy_(dr2.sum(dim=1))

    @staticmethod
    def col_sums(x, sums):
        torch.sum(x, dim=1, out=sums)

    @staticmethod
    def loss_sum(z, C, y, scale, mse, loss, dz):
        zc, target = z[..., :C], y.unsqueeze(-1)
        dz[..., C:] = 0
        if mse:
            diff = zc.clone()
            diff.scatter_add_(-1, target, torch.full_like(target, -1, dtype=diff.dtype))
            loss.copy_(diff.pow(2).sum(dim=(1, 2)) * scale)
            torch.mul(diff, 2 * scale, out=dz[..., :C])
            return
        logp = torch.log_softmax(zc, dim=-1)
        loss.copy_(-logp.gather(-1, target).sum(dim=(1, 2)) * scale)
        torch.mul(logp.exp(), scale, out=dz[..., :C])
        dz.scatter_add_(-1, target, torch.full_like(target, -scale, dtype=dz.dtype))


#: The step kernels in torch operations (see :class:`TorchKernels`).
TORCH_KERNELS = TorchKernels()
