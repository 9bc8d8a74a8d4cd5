"""Execute every chapter at the "smoke" preset, then again to check that nothing is retrained,
then once more from a partial store (every other record removed) to check that it still renders.

Each chapter runs with papermill in chapters/ with a temporary run store and results
folder, so these tests never touch data/runs. A smoke run should take well under two
minutes on two cores; the durations are printed (``pytest -s``) and recorded as test
properties (``--junitxml``).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import pytest

from conftest import CHAPTERS_DIR, chapter_notebooks, store_snapshot

papermill = pytest.importorskip("papermill")

from grokkit.book.verdicts import VERDICTS
#: A smoke run that takes longer than this is reported (not failed: the machine may be busy).
SMOKE_BUDGET_S = 120.0

NOTEBOOKS = chapter_notebooks()


def _execute(nb: Path, out: Path, **parameters) -> float:
    """Run ``nb`` with papermill, return its wall time in seconds."""
    start = time.perf_counter()
    papermill.execute_notebook(
        str(nb),
        str(out),
        parameters=parameters,
        cwd=str(CHAPTERS_DIR),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
    )
    return time.perf_counter() - start


def _verdict_rows(results_dir: Path, stem: str) -> list[dict]:
    path = results_dir / f"{stem}.json"
    assert path.is_file(), f"{stem} did not write its verdict table to {path}"
    data = json.loads(path.read_text())
    rows = data.get("rows")
    assert isinstance(rows, list) and rows, f"{path} has no verdict rows"
    for row in rows:
        assert row.get("verdict") in VERDICTS, f"{path}: unexpected verdict {row.get('verdict')!r} in {row}"
        for field in ("claim", "paper", "ours", "scale", "reason"):
            assert field in row, f"{path}: verdict row without {field!r}: {row}"
    return rows


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.skipif(not NOTEBOOKS, reason="no chapter notebooks yet")
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_smoke(nb: Path, tmp_path: Path, store_dir: Path, results_dir: Path, training_env,
                       record_property) -> None:
    params = dict(preset="smoke", store=str(store_dir), results_dir=str(results_dir))

    # 1. First execution: trains the smoke runs into the temporary store.
    first = _execute(nb, tmp_path / f"{nb.stem}.smoke.ipynb", **params)
    print(f"\n{nb.stem}: smoke run {first:.1f} s")
    record_property("smoke_seconds", round(first, 1))
    if first > SMOKE_BUDGET_S:
        warnings.warn(f"{nb.stem}: the smoke run took {first:.0f} s (budget {SMOKE_BUDGET_S:.0f} s)", stacklevel=1)
    rows = _verdict_rows(results_dir, nb.stem)
    before = store_snapshot(store_dir)
    assert before, f"{nb.stem}: the smoke run wrote no run record to the store"

    # 2. Second execution with the same parameters and training forbidden: every run must
    # come from the store (a missing one raises or would be trained), nothing is rewritten,
    # and the verdicts are the same.
    (results_dir / f"{nb.stem}.json").unlink()
    training_env()  # GROKKIT_NO_TRAIN=1 for the kernel started next
    second = _execute(nb, tmp_path / f"{nb.stem}.again.ipynb", **params)
    print(f"{nb.stem}: re-run from the store {second:.1f} s")
    record_property("rerun_seconds", round(second, 1))
    assert store_snapshot(store_dir) == before, f"{nb.stem}: re-running the chapter changed the run store"
    again = _verdict_rows(results_dir, nb.stem)
    assert [(r["claim"], r["ours"], r["verdict"]) for r in again] == \
        [(r["claim"], r["ours"], r["verdict"]) for r in rows], f"{nb.stem}: the re-run gave different verdicts"

    # 3. A partial store (a sweep still running, or interrupted): drop every other record.
    # The chapter must still render from what is there, train nothing, and give verdicts.
    records = sorted(p for p in store_dir.rglob("*.json") if p.is_file())
    for path in records[::2]:
        path.unlink()
    partial = store_snapshot(store_dir)
    (results_dir / f"{nb.stem}.json").unlink()
    _execute(nb, tmp_path / f"{nb.stem}.partial.ipynb", **params)
    assert store_snapshot(store_dir) == partial, f"{nb.stem}: rendering from a partial store changed it"
    _verdict_rows(results_dir, nb.stem)


@pytest.mark.notebook
@pytest.mark.skipif(not NOTEBOOKS, reason="no chapter notebooks yet")
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_chapter_renders_from_an_empty_store(nb: Path, tmp_path: Path, store_dir: Path, results_dir: Path,
                                             training_env) -> None:
    """At its book preset with training off and no runs stored, a chapter still renders,
    trains nothing, and reports its claims as "no data" rather than crashing."""
    training_env()
    _execute(nb, tmp_path / f"{nb.stem}.empty.ipynb", store=str(store_dir), results_dir=str(results_dir))
    rows = _verdict_rows(results_dir, nb.stem)
    assert {r["verdict"] for r in rows} == {"no data"}
    assert store_snapshot(store_dir) == {}
