"""Every headline result of the three papers, and which chapter row judges it.

:data:`HEADLINES` lists the results of ``papers.md`` §1.6, §2.6 and §3.6 (the papers' headline
numbers). Each is either judged by a chapter (``chapter`` and the start of the row's ``claim``)
or not tested, with the reason and what testing it would take: runs, steps per run and the
model, turned into hours on this machine by :func:`cost` from the store's own measured speed
of that model. The scoreboard lists the untested ones beside the verdicts, so a reader sees
what the book covers and what it does not.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Headline:
    """One headline result. ``chapter``/``row`` name the verdict row that judges it (the row's
    claim starts with ``row``); an untested one says ``why`` and what testing it needs:
    ``runs`` runs of ``model`` of about ``steps`` steps each."""

    paper: str
    where: str
    claim: str
    figure: str
    chapter: str = ""
    row: str = ""
    why: str = ""
    runs: int = 0
    steps: int = 0
    model: str = ""

    @property
    def tested(self) -> bool:
        return bool(self.chapter)


def _t(paper: str, where: str, claim: str, figure: str, chapter: str, row: str) -> Headline:
    return Headline(paper, where, claim, figure, chapter=chapter, row=row)


def _u(paper: str, where: str, claim: str, figure: str, why: str, runs: int, steps: int, model: str) -> Headline:
    return Headline(paper, where, claim, figure, why=why, runs=runs, steps=steps, model=model)


C1, C2, C3, C4, C5, C6 = ("01_critical_norm", "02_pinned_norm_law", "03_free_contraction_law", "04_sgd_vs_adamw",
                          "05_logit_scale", "06_layernorm")
C7 = "07_three_laws"

HEADLINES: tuple[Headline, ...] = (
    # ---------------------------------------------------------------- paper 1 (§1.6)
    _t("paper 1", "§4", "W_c at p = 59", "54.6", C1, "W_c at p = 59"),
    _t("paper 1", "§4", "W_c concentrated across seeds", "CV 0.4–4 % per cell", C1, "W_c concentrated across seeds"),
    _t("paper 1", "§4", "W_c flat across training fractions", "CV 1–2 %", C1, "W_c flat across training fractions"),
    _t("paper 1", "§4", "W_c flat across learning rates", "48.9 / 48.7 / 49.1", C1, "W_c flat across a"),
    _t("paper 1", "§4", "W_c robust to the threshold at p = 59", "55.0 / 54.6 / 54.2", C1, "W_c robust to the threshold"),
    _t("paper 1", "§4", "W_c robust to the threshold at p = 97", "68.0 / 67.1 / 66.4", C1, "W_c robust to the threshold at p = 97"),
    _t("paper 1", "§4", "W_c set by weight decay", "≈ 63 / 55 / 49", C1, "W_c set by weight decay"),
    _t("paper 1", "§4", "W_c ∝ p^0.38", "0.38", C1, "W_c grows as a power law"),
    _t("paper 1", "§4", "W_c per modulus", "42.1 / 47.6 / 54.6 / 61.2 / 67.1", C1, "W_c per modulus"),
    _t("paper 1", "§5", "Exponential law at p = 59: α", "7.64 [7.47, 7.81]", C2, "ln T_grok linear in ρ"),
    _t("paper 1", "§5", "The law bends at ρ = 1.30", "0.69–0.71", C2, "The law bends"),
    _t("paper 1", "§5", "Norm lever 19× against learning-rate lever 2×", "18.7× / ≈ 2×", C2, "The held norm moves the delay"),
    _t("paper 1", "§5", "α ≈ 7.4 at every learning rate", "7.32 / 8.66 / 8.95 / 8.71 (data)", C2, "Exponent at each learning rate"),
    _t("paper 1", "§5", "One-shot rescale 1.2× against a sustained hold 7.3×", "1.23× / 7.28×", C2, "A one-shot rescale"),
    _t("paper 1", "§5", "The ρ = 1 clamp against free training", "4077 / 5131", C2, "Held at ρ = 1 against free"),
    _t("paper 1", "§6", "One exponent shared across moduli", "7.49 [7.16, 7.69]", C2, "One exponent shared"),
    _t("paper 1", "§6", "Per-modulus exponents", "7.92 / 7.56 / 7.42 / 7.07", C2, "Per-modulus exponents"),
    _t("paper 1", "§6", "A norm floor at p = 31, ρ = 0.85", "0/12", C2, "p = 31 at ρ"),
    _t("paper 1", "§6", "Held norm over √p collapses the moduli at least as well as ρ", "R² 0.9968 vs 0.9955", C2,
       "ρ against ‖W‖/√p"),
    _t("paper 1", "§7", "With LayerNorms the total norm is not concentrated", "CV 0.15–0.17", C6, "With LayerNorms"),
    _t("paper 1", "§7", "…but the unembedding's norm is", "CV 0.03–0.05", C6, "…while the unembedding"),
    _t("paper 1", "§7", "One-group clamps act weakly (≤ ~2×)", "≤ 1.94×", C6, "A one-group clamp"),
    _t("paper 1", "§7", "Without LayerNorm the exponential law returns", "α₂ 15.45 [14.84, 15.98]", C6, "Without LayerNorm"),
    _u("paper 1", "§5", "One-shot 0.8× of one group (embed / hidden / out) moves T_grok < 3 %", "5321 / 5248.5 / 5321 vs 5395",
       "needs one-shot group rescales (supported by the trainer, not yet run)", 64, 6_000, "mlp"),
    _u("paper 1", "§5", "Frontier: below-W_c clamps lie on the free λ frontier", "λ ∈ {1, 2, 3, 5, 8}",
       "needs the λ frontier and below-W_c clamps at 16 seeds", 144, 10_000, "mlp"),
    _u("paper 1", "§6", "ρ = 1.30 at p = 41 is 0.39× its extrapolation", "39381 vs 1.0e5",
       "needs 160k-step budgets at p = 41", 12, 45_000, "mlp"),
    _u("paper 1", "§7", "‖U‖_c ∝ p^0.77 with LayerNorms", "0.77",
       "needs the LayerNorm transformer at p = 71 and 97", 96, 8_000, "attn"),
    _u("paper 1", "§4", "Fourier concentration rises as the norm descends", "Gini of the embedding spectrum",
       "needs a Fourier metric of the embedding, which the runs do not record", 20, 8_000, "mlp"),
    _t("paper 1", "§8", "A critical norm on sparse parity", "W_c 20.6; clamp 0.9 / 1.3 → 2687 / 6538.5", C7,
       "On sparse parity w_c ≈ 20.6"),
    # ---------------------------------------------------------------- paper 2 (§2.6)
    _t("paper 2", "Tab 1", "Dose law: α per unit norm, per modulus", "0.173 … 0.087", C5, "Dose law"),
    _t("paper 2", "Tab 1", "The exponential beats a power law and a saddle-node (ΔAIC)", "ΔAIC 0.4–6.4", C5,
       "The exponential fits best"),
    _t("paper 2", "Tab 2", "Norm-up delay under CE", "3.43× / 3.41×", C5, "Raising the held norm"),
    _t("paper 2", "Tab 2", "Recovery fraction", "0.83 / 0.89", C5, "A temperature restoring L"),
    _t("paper 2", "Tab 3", "ln T collapses onto L", "R² 0.968 / 0.973", C5, "ln T_grok collapses onto L"),
    _t("paper 2", "Tab 3", "ρ adds little once L is known", "ΔR² 0.020 / 0.011", C5, "ρ adds little"),
    _t("paper 2", "§4", "Under MSE the norm raise matters less", "1.89× / 1.66×", C5, "Under MSE the same norm"),
    _t("paper 2", "§4", "Under MSE about two-thirds of the τ effect falls on T_mem at p = 97", "≈ 2/3", C5,
       "Under MSE, τ moves T_mem"),
    _t("paper 2", "§4", "Under CE, τ hardly moves T_mem", "175 → 200", C5, "Under CE, τ hardly moves"),
    _t("paper 2", "§4", "Free controls grok slower than the ρ = 1 clamp", "5025 vs 3675; 2750 vs 1775", C5,
       "Free controls grok slower"),
    _t("paper 2", "Tab 10", "Same-state fork: raised / same", "3.36 [3.27, 3.43]", C5, "Same-state fork"),
    _t("paper 2", "Tab 4", "float32 and float64 agree at ρ = 1.15", "0.95", C5, "Precision"),
    _u("paper 2", "Tab 9", "Layer allocation at fixed total norm moves T_grok 2.2×", "2975 … 1825",
       "needs per-layer clamps of the E + W2 budget (a per-group target)", 120, 20_000, "mlp"),
    _u("paper 2", "§4.5", "No-LN transformer: τ shortens the delay 4.7×", "16112 → 3462",
       "needs the no-LN transformer's τ cells at 12 seeds", 72, 8_000, "attn"),
    # ---------------------------------------------------------------- paper 3 (§3.6)
    _t("paper 3", "Tab 2", "V contracts geometrically after memorization", "γ_fit 0.00141 ± 0.00007", C3, "V contracts"),
    _t("paper 3", "Tab 2", "The exponential fit describes V", "R² 0.9991 ± 0.0003", C3, "The exponential fit"),
    _t("paper 3", "Tab 2", "Main cell", "840 / 1840 / 1000 / ≈3900 / ≈300", C3, "Main cell"),
    _t("paper 3", "Tab 2", "The escape time overstates the delay by ~25 %", "1251 vs 1000", C3, "The escape time"),
    _t("paper 3", "Tab 3", "Which λ grok", "0 / 0 / 10 / 10 / 10 / 10 / 3 / 0 of 10", C3, "Which λ grok"),
    _t("paper 3", "Tab 3", "T_grok ∝ 1/λ", "slope 1182 [1082, 1271]", C3, "T_grok ∝ 1/λ"),
    _t("paper 3", "Tab 3", "T(0.1) / T(1)", "6.0", C3, "…but only approximately"),
    _t("paper 3", "Tab 3", "V_mem / V_post per λ", "log ratio 1.94 / 2.37 / 2.40 / 2.28", C3, "ln(V_mem/V_post) per λ"),
    _t("paper 3", "Tab 3", "Norm-adjusted delay T̃ is nearly constant across λ", "CV ≈ 0.18", C3, "The norm-adjusted delay"),
    _t("paper 3", "Tab 5", "T_grok ∝ 1/η", "R² 0.921", C3, "T_grok ∝ 1/η"),
    _t("paper 3", "Tab 4", "Delay follows ln(V_mem/V_post) across moduli", "r 0.91 (data 0.836)", C3,
       "The delay follows ln"),
    _t("paper 3", "S9", "Multiplication groks, ~3× later", "20/20; 3×", C3, "Multiplication groks"),
    _t("paper 3", "Tab 9", "Sparse parity: no delay", "delay ≤ 0", C3, "Sparse parity"),
    _t("paper 3", "Alg. 1", "Predictor at memorization", "MAE 34.6 % [30.0, 39.4]", C3, "Predictor at memorization"),
    _t("paper 3", "Alg. 1", "Grokking check V_mem > 2·V̂_post", "holds on every grokking run", C3, "The grokking check"),
    _t("paper 3", "Tab 7", "SGD neither memorizes nor groks", "0/5", C4, "SGD with coupled L2"),
    _t("paper 3", "Tab 7", "SGD's V collapses", "1.1e-4 / 3.6e-5", C4, "SGD's V collapses"),
    _t("paper 3", "Tab 7", "AdamW groks", "5/5, 1760 ± 150", C4, "AdamW groks"),
    _t("paper 3", "Tab 7", "AdamW's V_final", "233 ± 35", C4, "AdamW's V_final"),
    _u("paper 3", "Tab 5", "η × λ grid: T·ηλ roughly constant", "mean 9.58, CV ≈ 2.7",
       "needs the 3 × 3 grid of η and λ at 5 seeds", 45, 6_000, "encoder"),
    _u("paper 3", "Tab 6", "The validation gap follows the non-Fourier energy R", "OLS R² 0.77",
       "needs a Fourier metric of the logits, which the runs do not record", 5, 8_000, "encoder"),
)


def cost(runs: int, steps: int, model: str, rates: dict[str, float]) -> float:
    """Hours on this machine for ``runs`` runs of ``steps`` steps of ``model``, at the run-steps
    per second ``rates[model]`` measured from the store (NaN when the model has no measured rate)."""
    rate = rates.get(model)
    return runs * steps / rate / 3600 if rate else float("nan")


def coverage(rows: pd.DataFrame, rates: dict[str, float]) -> pd.DataFrame:
    """One row per headline: paper, where, claim, figure, and either the chapter and verdict of the
    row that judges it (matched in ``rows``, the scoreboard's table: chapter, claim, verdict) or
    "not tested" with the reason and the cost of testing it in hours on this machine."""
    out = []
    for h in HEADLINES:
        if h.tested:
            match = rows[(rows["chapter"] == h.chapter) & rows["claim"].str.startswith(h.row)]
            verdict = match["verdict"].iloc[0] if len(match) else "no row yet"
            out.append({"paper": h.paper, "where": h.where, "claim": h.claim, "paper's figure": h.figure,
                        "status": verdict, "chapter": h.chapter, "why not tested": "", "cost (hours here)": float("nan")})
        else:
            out.append({"paper": h.paper, "where": h.where, "claim": h.claim, "paper's figure": h.figure,
                        "status": "not tested", "chapter": "", "why not tested": h.why,
                        "cost (hours here)": cost(h.runs, h.steps, h.model, rates)})
    return pd.DataFrame(out)
