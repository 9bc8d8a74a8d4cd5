"""grokkit.book.headless: running a chapter notebook's code cells without Jupyter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CHAPTERS_DIR, ROOT, child_env
from grokkit.book import headless


def _code(source: str, tags: list[str] | None = None) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": tags or []}, "outputs": [],
            "source": source.splitlines(True)}


def write_notebook(folder: Path) -> Path:
    """A tiny chapter: markdown, parameters, a cell using them (and a relative path), a display +
    matplotlib cell tagged ``training``, a failing cell, and a last cell."""
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# A tiny chapter\n"]},
        _code('x = 1\nname = "a"\nlrs = None', ["parameters", "hide-input"]),
        _code('y = x * 10\nPath = __import__("pathlib").Path\n'
              'Path("out.txt").write_text(f"{y} {name} {lrs!r} {__name__}")\nprint("Y =", y)'),
        _code('import matplotlib.pyplot as plt\nfrom IPython.display import display, Markdown\n'
              'fig, ax = plt.subplots()\nax.plot([1, 2], [3, 4])\n'
              'display(Markdown("**hello from markdown**"))\n'
              'import IPython\nprint("IPYTHON", getattr(IPython, "__version__", "?"))\n'
              'print("BACKEND", plt.get_backend().lower())\n'
              'y + 1', ["training"]),
        _code('print("FIGURES", len(plt.get_fignums()))\nraise RuntimeError("boom in cell four")'),
        _code('print("AFTER THE FAILURE")'),
    ]
    nb = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path = folder / "tiny.ipynb"
    path.write_text(json.dumps(nb))
    return path


def run_cli(args: list[str], hide_ipython: bool = False, cwd: Path = ROOT,
            timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """``python -m grokkit.book.headless ARGS`` in a subprocess; with ``hide_ipython`` IPython (and
    myst_nb) cannot be imported there, as on a bare GPU server."""
    if hide_ipython:
        code = ("import sys\nfor m in ('IPython', 'IPython.display', 'myst_nb'): sys.modules[m] = None\n"
                "from grokkit.book.headless import main\nsys.exit(main(sys.argv[1:]))")
        cmd = [sys.executable, "-c", code, *args]
    else:
        cmd = [sys.executable, "-m", "grokkit.book.headless", *args]
    return subprocess.run(cmd, cwd=cwd, env=child_env(**env), capture_output=True, text=True, timeout=timeout)


def test_parse_value() -> None:
    assert headless.parse_value("4") == 4
    assert headless.parse_value("1e-3") == 1e-3
    assert headless.parse_value("[1, 2]") == [1, 2]
    assert headless.parse_value("None") is None
    assert headless.parse_value("False") is False
    assert headless.parse_value("'quoted'") == "quoted"
    assert headless.parse_value("paper") == "paper"
    assert headless.parse_value("/tmp/store") == "/tmp/store"


def test_read_cells_keeps_code_cells_and_tags(tmp_path: Path) -> None:
    cells = headless.read_cells(write_notebook(tmp_path))
    assert [c.index for c in cells] == [1, 2, 3, 4, 5]
    assert cells[0].tags == ["parameters", "hide-input"]
    assert cells[0].first_line == "x = 1"


def test_overrides_apply_in_the_notebooks_folder(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path)
    proc = run_cli([str(nb), "-p", "x", "7", "-p", "name", "b", "-p", "lrs", "[0.1, 0.2]",
                    "--cells-until", "training"])
    assert proc.returncode == 0, proc.stderr
    # The overrides won over the parameters cell; the relative path landed next to the notebook.
    assert (tmp_path / "out.txt").read_text() == "70 b [0.1, 0.2] __main__"
    assert "Y = 70" in proc.stdout
    # Per-cell log lines: index, first source line, wall time.
    assert "[cell 2] (2/5) y = x * 10" in proc.stdout
    assert "[cell 2] done in " in proc.stdout
    assert "BACKEND agg" in proc.stdout
    assert "**hello from markdown**" in proc.stdout
    assert "\n71\n" in proc.stdout  # the value of the cell's last expression, as text


def test_runs_without_ipython(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path)
    proc = run_cli([str(nb), "-p", "x", "2", "--cells-until", "training"], hide_ipython=True)
    assert proc.returncode == 0, proc.stderr
    assert "IPYTHON 99.0.0+headless-stub" in proc.stdout  # the stand-in served the import
    assert "**hello from markdown**" in proc.stdout
    assert (tmp_path / "out.txt").read_text().startswith("20 a None")


def test_stub_installer_provides_the_display_api() -> None:
    saved = headless.install_ipython_stub()
    try:
        from IPython.display import HTML, Markdown, clear_output, display  # noqa: F401

        assert display is headless.display
        assert Markdown("*x*").data == "*x*" and HTML("<b>x</b>").data == "<b>x</b>"
        assert headless.text_form(Markdown("*x*")) == "*x*"
    finally:
        headless._restore_modules(saved)
    assert sys.modules.get("IPython", headless._ABSENT) is saved["IPython"]


def test_text_form_truncates_tables() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": range(500), "b": range(500)})
    text = headless.text_form(frame)
    assert len(text.splitlines()) < 40
    assert headless.text_form(None) == "None"


def test_failure_exits_1_naming_the_cell(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path)
    proc = run_cli([str(nb)], hide_ipython=True)
    assert proc.returncode == 1
    assert "[cell 4] FAILED" in proc.stderr
    assert "RuntimeError: boom in cell four" in proc.stderr
    assert 'File "<cell 4>", line 2' in proc.stderr
    assert "FIGURES 0" in proc.stdout  # the previous cell's figure was closed
    assert "AFTER THE FAILURE" not in proc.stdout


def test_keep_going_runs_the_rest_but_still_fails(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path)
    proc = run_cli([str(nb), "--keep-going"])
    assert proc.returncode == 1
    assert "AFTER THE FAILURE" in proc.stdout
    assert "FAILED: cell(s) 4" in proc.stderr


def test_cells_until_stops_after_the_tagged_cell(tmp_path: Path) -> None:
    nb = write_notebook(tmp_path)
    proc = run_cli([str(nb), "--cells-until", "training"])
    assert proc.returncode == 0, proc.stderr
    assert "stopping after cell 3" in proc.stdout
    assert "boom" not in proc.stdout + proc.stderr


def test_main_in_process_restores_cwd_and_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setitem(sys.modules, "IPython", None)  # simulate a server without IPython
    nb = write_notebook(tmp_path)
    cwd = Path.cwd()
    assert headless.main([str(nb), "-p", "x", "3", "--cells-until", "training"]) == 0
    assert Path.cwd() == cwd
    assert sys.modules["IPython"] is None  # the stand-in was removed again
    assert "Y = 30" in capsys.readouterr().out
    assert headless.main([str(nb)]) == 1
    assert Path.cwd() == cwd
    assert headless.main([str(tmp_path / "missing.ipynb")]) == 2


@pytest.mark.slow
def test_smoke_chapter_runs_headless(tmp_path: Path, training_env) -> None:
    """Chapter 1 at the smoke preset trains and reports without Jupyter (about 20 s)."""
    store, results = tmp_path / "store", tmp_path / "results"
    nb = CHAPTERS_DIR / "01_critical_norm.ipynb"
    proc = run_cli([str(nb), "-p", "preset", "smoke", "-p", "store", str(store), "-p", "results_dir", str(results)],
                   timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "finished 01_critical_norm.ipynb" in proc.stdout
    assert any(p.is_file() for p in store.rglob("*")), "no run was written to the store"
    assert (results / "01_critical_norm.json").is_file()


def test_the_prepared_gpu_session_script_parses_and_names_existing_chapters() -> None:
    """docs/gpu/session.sh is what a session with a GPU runs first: valid bash, real chapters."""
    script = ROOT / "docs" / "gpu" / "session.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    line = next(l for l in text.splitlines() if l.startswith("for chapter in"))
    names = line.split(" in ", 1)[1].split(";")[0].split()
    assert names == ["06_layernorm", "05_logit_scale", "04_sgd_vs_adamw", "03_free_contraction_law"]
    assert all((CHAPTERS_DIR / f"{n}.ipynb").is_file() for n in names)
    assert "tests/engine/test_cuda.py" in text and "-p preset paper" in text
