"""grokkit's fused CPU kernels: each one computes what the torch operations it replaces compute,
they build where a C++ compiler is, ``GROKKIT_KERNELS`` switches them, and a failed build warns
and leaves training on plain torch operations."""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F

from grokkit.engine import kernels
from grokkit.engine.kernels import TORCH_KERNELS
from grokkit.engine.protocols import paper1
from grokkit.engine.optim import AdamW
from grokkit.engine.trainer import train

needs_compiler = pytest.mark.skipif(shutil.which("c++") is None, reason="no C++ compiler on this machine")


@pytest.fixture
def fused(monkeypatch):
    monkeypatch.setenv("GROKKIT_KERNELS", "1")
    module = kernels.compiled()
    if module is None:
        pytest.skip("the fused kernels did not build here (test_the_kernels_build_here says why)")
    return module


@needs_compiler
def test_the_kernels_build_here(monkeypatch):
    monkeypatch.setenv("GROKKIT_KERNELS", "1")
    assert kernels.compiled() is not None
    assert kernels.for_mlp_step(torch.zeros(2)) is not None
    assert kernels.for_mlp_step(torch.zeros(2, dtype=torch.float64)) is None  # float64 keeps torch's exact erf
    assert kernels.for_tensors(torch.zeros(2, dtype=torch.float64)) is not None
    assert kernels.for_tensors(torch.zeros(2), torch.zeros(2, dtype=torch.float64)) is None  # one dtype
    assert kernels.for_tensors(torch.zeros(2, 3).t()) is None  # contiguous only


def test_the_environment_switches_them_off_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("GROKKIT_KERNELS", "0")
    assert kernels.compiled() is None and kernels.for_mlp_step(torch.zeros(2)) is None
    monkeypatch.setenv("GROKKIT_KERNELS", "yes")
    with pytest.raises(ValueError, match="GROKKIT_KERNELS"):
        kernels.compiled()


def test_a_failed_build_warns_once_and_training_goes_on(tmp_path, monkeypatch):
    broken = tmp_path / "kernels.cpp"
    broken.write_text("#error a deliberately broken kernel source\n")
    monkeypatch.setattr(kernels, "SOURCE", broken)
    monkeypatch.setattr(kernels, "_state", {})
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("GROKKIT_KERNELS", "1")
    with pytest.warns(RuntimeWarning, match="could not be built.*plain torch operations"):
        assert kernels.compiled() is None
    (result,) = train([paper1(p=11, d_embed=8, d_hidden=16, max_steps=50)], "cpu")
    assert result.summary["diverged_at"] is None and result.trajectory["train_loss"]


def _bags(p: int, m: int, runs: int, g: torch.Generator) -> torch.Tensor:
    """Example rows of a table of ``2 p`` rows per run: operand a in the first half, b in the second."""
    a = torch.randint(0, p, (runs, m), generator=g)
    b = torch.randint(p, 2 * p, (runs, m), generator=g)
    offset = 2 * p * torch.arange(runs).view(runs, 1)
    return torch.stack([a + offset, b + offset], dim=-1).view(runs * m, 2)


@pytest.mark.parametrize("hidden", [32, 37])  # whole vectors, and a scalar tail
def test_hidden_layer_kernels_equal_the_torch_operations(fused, hidden):
    g = torch.Generator().manual_seed(0)
    p, m, runs = 7, 30, 3
    table = 2 * torch.randn(runs * 2 * p, hidden, generator=g)
    bags = _bags(p, m, runs, g)
    act, slope = torch.empty(runs * m, hidden), torch.empty(runs * m, hidden)
    fused.hidden_forward(table, bags, act, slope)
    pre = F.embedding_bag(bags, table, mode="sum")
    torch.testing.assert_close(act, F.gelu(pre), rtol=1e-5, atol=1e-6)
    dact = torch.randn(runs * m, hidden, generator=g)
    torch.testing.assert_close(dact * slope, torch.ops.aten.gelu_backward(dact, pre), rtol=1e-5, atol=1e-6)
    dtable = torch.zeros_like(table)
    fused.hidden_backward(dact, slope, bags, dtable, m)
    dpre = torch.ops.aten.gelu_backward(dact, pre)
    want = torch.zeros_like(table).index_add_(0, bags[:, 0], dpre).index_add_(0, bags[:, 1], dpre)
    torch.testing.assert_close(dtable, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("classes,width", [(5, 16), (59, 64), (64, 64)])
def test_cross_entropy_kernel_equals_torch(fused, classes, width):
    g = torch.Generator().manual_seed(1)
    runs, m = 3, 40
    z = torch.randn(runs, m, width, generator=g) * 4
    z[..., classes:] = 1e3  # padding columns must not count
    y = torch.randint(0, classes, (runs, m), generator=g)
    loss, dz = torch.empty(runs), torch.empty(runs, m, classes)
    fused.cross_entropy(z, classes, y, loss, dz)
    zc = z[..., :classes].clone().requires_grad_()
    want = F.cross_entropy(zc.transpose(1, 2), y, reduction="none").mean(dim=1)
    torch.testing.assert_close(loss, want.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(dz, torch.autograd.grad(want.sum(), zc)[0], rtol=1e-5, atol=1e-7)


def test_cross_entropy_kernel_passes_non_finite_logits_on_and_refuses_bad_classes(fused):
    z = torch.zeros(2, 3, 16)
    z[0, 1, 2] = float("nan")
    z[1, 0, 0] = float("inf")
    loss, dz = torch.empty(2), torch.empty(2, 3, 4)
    fused.cross_entropy(z, 4, torch.zeros(2, 3, dtype=torch.long), loss, dz)
    assert not torch.isfinite(loss).any()  # such a run is then recorded as diverged
    with pytest.raises(RuntimeError, match="outside"):
        fused.cross_entropy(z, 4, torch.full((2, 3), 4, dtype=torch.long), loss, dz)
    with pytest.raises(RuntimeError, match="columns"):
        fused.cross_entropy(torch.zeros(2, 3, 4), 5, torch.zeros(2, 3, dtype=torch.long), loss, dz)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("order", ["before", "after"])
def test_fused_adamw_equals_the_torch_operations(fused, monkeypatch, dtype, order):
    g = torch.Generator().manual_seed(2)
    shapes = {"W": (3, 5, 7), "b": (3, 13)}  # W decayed, b not; 35 and 13 numbers: vector tails
    params = {k: torch.randn(*s, generator=g, dtype=dtype) for k, s in shapes.items()}
    lr = torch.tensor([1e-2, 3e-3, 1e-1], dtype=dtype)
    wd = torch.tensor([1.0, 0.3, 2.0], dtype=dtype)
    twins = {k: v.clone() for k, v in params.items()}
    opts = [AdamW(ps, ("W",), lr, wd, order=order) for ps in (params, twins)]
    for _ in range(5):
        grads = {k: torch.randn(*s, generator=g, dtype=dtype) for k, s in shapes.items()}
        monkeypatch.setenv("GROKKIT_KERNELS", "1")
        opts[0].step(params, grads)
        monkeypatch.setenv("GROKKIT_KERNELS", "0")
        opts[1].step(twins, grads)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
    for k in params:
        torch.testing.assert_close(params[k], twins[k], **tol)
        torch.testing.assert_close(opts[0].state["v"][k], opts[1].state["v"][k], **tol)


def test_fused_adamw_rounds_a_run_the_same_in_any_batch(fused):
    """Bit for bit: a run updated alone and inside a batch updated by two threads."""
    g = torch.Generator().manual_seed(3)
    n, size = 5, 5003  # the threads' chunks would cut runs' numbers apart, were they split by number
    w, grad = torch.randn(n, size, generator=g), torch.randn(n, size, generator=g)
    lr, wd = torch.linspace(1e-3, 1e-2, n), torch.linspace(0.1, 2.0, n)
    m, v = 0.1 * torch.randn(n, size, generator=g), torch.rand(n, size, generator=g)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        batch = [t.clone() for t in (w, m, v)]
        fused.adamw_(batch[0], grad, batch[1], batch[2], lr, wd, "before", 0.9, 0.999, 1e-8, 0.1, 0.001)
    finally:
        torch.set_num_threads(threads)
    for i in range(n):
        alone = [t[i:i + 1].clone() for t in (w, m, v)]
        fused.adamw_(alone[0], grad[i:i + 1], alone[1], alone[2], lr[i:i + 1], wd[i:i + 1], "before", 0.9, 0.999,
                     1e-8, 0.1, 0.001)
        for got, want in zip(alone, batch):
            assert torch.equal(got[0], want[i])


@needs_compiler
def test_a_lock_left_by_a_killed_build_does_not_block_the_next_process(monkeypatch):
    monkeypatch.setenv("GROKKIT_KERNELS", "1")
    folder = kernels.build_directory(torch.backends.cpu.get_cpu_capability())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lock").write_text("")  # torch's lock file, as a build killed half-way leaves it
    monkeypatch.setattr(kernels, "_state", {})
    assert kernels.compiled() is not None  # torch alone would wait on that file forever
    assert not (folder / "lock").exists()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_squared_norms_kernel_accumulates_in_float64(fused, dtype):
    g = torch.Generator().manual_seed(4)
    w = torch.randn(3, 1001, generator=g, dtype=dtype) * 1e3  # a scalar tail after the vectors
    want = w.double().pow(2).sum(dim=1)
    got = fused.sq_norms(w)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, want, rtol=1e-13, atol=0)


# ---------------------------------------------------------------- the attention models' and the encoder's kernels
def _rand(g, *shape, dtype, scale=1.0):
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


def _both(fn_name, fused, inputs: dict, outputs: dict):
    """Call the kernel ``fn_name`` and its torch twin on the same inputs; return both sets of outputs."""
    got = {k: v.clone() for k, v in outputs.items()}
    want = {k: v.clone() for k, v in outputs.items()}
    getattr(fused, fn_name)(*inputs.values(), *got.values())
    getattr(TORCH_KERNELS, fn_name)(*inputs.values(), *want.values())
    return got, want


TOLS = {torch.float32: dict(rtol=1e-4, atol=1e-5), torch.float64: dict(rtol=1e-11, atol=1e-12)}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("layernorm", [True, False])
@pytest.mark.parametrize("d", [32, 20])  # whole vectors, and a scalar tail
def test_attention_kernels_equal_the_torch_operations(fused, dtype, layernorm, d):
    g = torch.Generator().manual_seed(5)
    k, mh, p, h = 3, 17, 7, 4
    r = 2 * p + 1
    S, VO, eq = _rand(g, k, r, h, dtype=dtype, scale=2), _rand(g, k, h, r, d, dtype=dtype), _rand(g, k, d, dtype=dtype)
    rows = torch.stack([torch.randint(0, p, (k, mh), generator=g), torch.randint(p, 2 * p, (k, mh), generator=g)], -1)
    out = {"resid": torch.empty(k, mh, d, dtype=dtype), "w": torch.empty(k, mh, h, 3, dtype=dtype),
           "n1": torch.empty(k, mh, d, dtype=dtype), "rstd": torch.empty(k, mh, dtype=dtype)}
    got, want = _both("attn_forward", fused, dict(S=S, VO=VO, eq=eq, rows=rows, layernorm=layernorm), out)
    for name in (("resid", "w", "n1", "rstd") if layernorm else ("resid", "w")):
        torch.testing.assert_close(got[name], want[name], **TOLS[dtype], msg=lambda m: f"{name}: {m}")
    n1 = got["n1"] if layernorm else got["resid"]
    inputs = dict(dr2=_rand(g, k, mh, d, dtype=dtype), dn1=_rand(g, k, mh, d, dtype=dtype), n1=n1,
                  rstd=got["rstd"], w=got["w"], rows=rows, VO=VO, layernorm=layernorm)
    out = {"deq": torch.full((k, d), 7.0, dtype=dtype), "dS": torch.full((k, r, h), 7.0, dtype=dtype),
           "dVO": torch.full((k, h, r, d), 7.0, dtype=dtype)}  # overwritten, not added to
    got, want = _both("attn_backward", fused, inputs, out)
    for name in out:
        torch.testing.assert_close(got[name], want[name], **TOLS[dtype], msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [32, 24])
def test_encoder_kernels_equal_the_torch_operations(fused, dtype, d):
    g = torch.Generator().manual_seed(6)
    k, mh, p, h = 3, 19, 9, 4
    Q, Kt, s11 = _rand(g, k, p, d, dtype=dtype), _rand(g, k, 2 * p, d, dtype=dtype), _rand(g, k, p, h, dtype=dtype)
    VO, X = _rand(g, k, h, 2 * p, d, dtype=dtype), _rand(g, k, 2 * p, d, dtype=dtype)
    bo, g1, h1 = _rand(g, k, d, dtype=dtype), 1 + 0.2 * _rand(g, k, d, dtype=dtype), _rand(g, k, d, dtype=dtype)
    ab = torch.randint(0, p, (k, mh, 2), generator=g)
    out = {n: torch.empty(k, mh, d, dtype=dtype) for n in ("y", "yhat")}
    out.update(rstd=torch.empty(k, mh, dtype=dtype), w=torch.empty(k, mh, h, 2, dtype=dtype))
    inputs = dict(Q=Q, Kt=Kt, s11=s11, VO=VO, X=X, bo=bo, g1=g1, h1=h1, ab=ab, scale=(d / h) ** 0.5)
    got, want = _both("enc_forward", fused, inputs, out)
    for name in out:
        torch.testing.assert_close(got[name], want[name], **TOLS[dtype], msg=lambda m: f"{name}: {m}")
    inputs = dict(dy=_rand(g, k, mh, d, dtype=dtype), yhat=got["yhat"], rstd=got["rstd"], w=got["w"], ab=ab, Q=Q,
                  Kt=Kt, VO=VO, g1=g1, scale=(d / h) ** 0.5)
    out = {n: torch.full((k, d), 7.0, dtype=dtype) for n in ("dg1", "dh1", "dbo")}
    out.update(dx1=torch.full((k, p, d), 7.0, dtype=dtype), dQ=torch.full((k, p, d), 7.0, dtype=dtype),
               dKt=torch.full((k, 2 * p, d), 7.0, dtype=dtype), ds11=torch.full((k, p, h), 7.0, dtype=dtype),
               dVO=torch.full((k, h, 2 * p, d), 7.0, dtype=dtype))
    got, want = _both("enc_backward", fused, inputs, out)
    for name in out:
        torch.testing.assert_close(got[name], want[name], **TOLS[dtype], msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("d", [32, 20])
def test_layernorm_kernels_equal_the_torch_operations(fused, dtype, d):
    g = torch.Generator().manual_seed(7)
    k, mh = 3, 11
    gains = {n: 1 + 0.3 * _rand(g, k, d, dtype=dtype) for n in ("g2", "gf")}
    inputs = dict(r2=_rand(g, k, mh, d, dtype=dtype, scale=3), c2=_rand(g, k, d, dtype=dtype), g2=gains["g2"],
                  h2=_rand(g, k, d, dtype=dtype), gf=gains["gf"], hf=_rand(g, k, d, dtype=dtype))
    out = dict(z2hat=torch.empty(k, mh, d, dtype=dtype), rstd2=torch.empty(k, mh, dtype=dtype),
               zfhat=torch.empty(k, mh, d, dtype=dtype), rstdf=torch.empty(k, mh, dtype=dtype),
               zf=torch.empty(k, mh, d, dtype=dtype))
    got, want = _both("ln2f_forward", fused, inputs, out)
    for name in out:
        torch.testing.assert_close(got[name], want[name], **TOLS[dtype], msg=lambda m: f"{name}: {m}")
    # against autograd through the plain affine LayerNorms
    r2 = inputs["r2"].clone().requires_grad_()
    z2 = F.layer_norm(r2 + inputs["c2"].unsqueeze(1), (d,)) * inputs["g2"].unsqueeze(1) + inputs["h2"].unsqueeze(1)
    zf = F.layer_norm(z2, (d,)) * inputs["gf"].unsqueeze(1) + inputs["hf"].unsqueeze(1)
    torch.testing.assert_close(got["zf"], zf.detach(), **TOLS[dtype])
    dzf = _rand(g, k, mh, d, dtype=dtype)
    inputs = dict(dzf=dzf, z2hat=got["z2hat"], rstd2=got["rstd2"], zfhat=got["zfhat"], rstdf=got["rstdf"],
                  g2=gains["g2"], gf=gains["gf"])
    out = {"dr2": torch.empty(k, mh, d, dtype=dtype), **{n: torch.full((k, d), 7.0, dtype=dtype)
                                                        for n in ("dgf", "dhf", "dg2", "dh2", "dc2")}}
    got, want = _both("ln2f_backward", fused, inputs, out)
    for name in out:
        torch.testing.assert_close(got[name], want[name], **TOLS[dtype], msg=lambda m: f"{name}: {m}")
    torch.testing.assert_close(got["dr2"], torch.autograd.grad(zf, r2, dzf)[0], **TOLS[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mse", [False, True])
@pytest.mark.parametrize("classes,width", [(5, 16), (60, 64), (97, 112), (64, 64)])
def test_loss_kernel_equals_torch(fused, dtype, mse, classes, width):
    g = torch.Generator().manual_seed(8)
    k, mh = 3, 21
    z = _rand(g, k, mh, width, dtype=dtype, scale=4)
    z[..., classes:] = 1e3  # padding columns must not count
    y = torch.randint(0, classes, (k, mh), generator=g)
    out = dict(loss=torch.empty(k, dtype=dtype), dz=torch.full((k, mh, width), 7.0, dtype=dtype))
    got, want = _both("loss_sum", fused, dict(z=z, C=classes, y=y, scale=1 / 40, mse=mse), out)
    tol = TOLS[dtype] if dtype == torch.float64 else dict(rtol=2e-5, atol=1e-6)
    for name in out:
        torch.testing.assert_close(got[name], want[name], **tol, msg=lambda m: f"{name}: {m}")
    assert torch.all(got["dz"][..., classes:] == 0)
    zc = z[..., :classes].clone().requires_grad_()  # and against the loss as the reference step computes it
    per = ((zc - F.one_hot(y, classes).to(dtype)).pow(2).sum(-1) if mse else
           F.cross_entropy(zc.transpose(1, 2), y, reduction="none")).sum(dim=1) / 40
    torch.testing.assert_close(got["loss"], per.detach(), **tol)
    torch.testing.assert_close(got["dz"][..., :classes], torch.autograd.grad(per.sum(), zc)[0], **tol)


def test_loss_kernel_passes_non_finite_logits_on(fused):
    z = torch.zeros(2, 3, 16)
    z[0, 1, 2], z[1, 0, 0] = float("nan"), float("inf")
    loss, dz = torch.empty(2), torch.empty(2, 3, 16)
    fused.loss_sum(z, 5, torch.zeros(2, 3, dtype=torch.long), 1.0, False, loss, dz)
    assert not torch.isfinite(loss).any()
    with pytest.raises(RuntimeError, match="outside"):
        fused.loss_sum(z, 5, torch.full((2, 3), 5, dtype=torch.long), 1.0, False, loss, dz)


@pytest.mark.parametrize("hidden", [32, 37])
def test_gelu_kernels_equal_the_torch_operations(fused, hidden):
    g = torch.Generator().manual_seed(9)
    x = 3 * torch.randn(3, 10, hidden, generator=g)
    act, slope = x.clone(), torch.empty_like(x)
    fused.gelu_slope_(act, slope)
    torch.testing.assert_close(act, F.gelu(x), rtol=1e-5, atol=1e-6)
    dact = torch.randn(3, 10, hidden, generator=g)
    du, sums = dact.clone(), torch.full((3, hidden), 7.0)
    fused.gelu_grad_(du, slope, sums, True)
    want = torch.ops.aten.gelu_backward(dact, x)
    torch.testing.assert_close(du, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(sums, want.sum(dim=1), rtol=1e-5, atol=1e-5)
    col = torch.empty(3, hidden)
    fused.col_sums(want, col)
    torch.testing.assert_close(col, want.sum(dim=1), rtol=1e-5, atol=1e-5)


def test_the_step_kernels_fall_back_to_torch_operations(monkeypatch):
    monkeypatch.setenv("GROKKIT_KERNELS", "0")
    assert kernels.for_step(torch.zeros(2)) is TORCH_KERNELS
    assert kernels.for_step(torch.zeros(2, dtype=torch.float16)) is TORCH_KERNELS


@pytest.mark.xfail(strict=True, reason="known: the fused GELU's erf (Abramowitz & Stegun 7.1.26, ATen's vectorized "
                   "erf) is biased low by about 2e-8 on average, as ATen's own GELU is with oneDNN off; F.gelu "
                   "goes through oneDNN here and is unbiased. Not the cause of chapter 2's slow p = 41 cell "
                   "grokking later with the kernels on: with a correctly rounded GELU in the kernel its two "
                   "probe seeds still grok late, and with torch's log-softmax in place of the fused "
                   "cross-entropy they grok at the autograd runs' steps (stop note of 2026-12-05, second session).")
def test_the_fused_gelu_is_as_unbiased_as_torchs(fused):
    g = torch.Generator().manual_seed(11)
    x = 2 * torch.randn(4096, 256, generator=g)
    act, slope = x.clone(), torch.empty_like(x)
    fused.gelu_slope_(act, slope)
    truth = F.gelu(x.double())
    assert abs(float((F.gelu(x).double() - truth).mean())) < 1e-9  # torch's own float32 GELU: about 2e-11
    assert abs(float((act.double() - truth).mean())) < 1e-9
