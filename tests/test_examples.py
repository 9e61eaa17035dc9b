"""Smoke tests: every example and the demo run headless and produce output."""

import os
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import ConvergenceWarning

from softmax_regression.__main__ import main

pytest.importorskip("matplotlib")
EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


def test_examples_found():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs_and_saves_figures(path, tmp_path, monkeypatch, capsys):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    runpy.run_path(str(path), run_name="__main__")
    plt.close("all")
    figures = list(tmp_path.glob("*.png"))
    assert figures, f"{path.name} saved no figure"
    assert all(figure.stat().st_size > 1000 for figure in figures)
    if path.stem == "plot_distillation":  # the longest: it reports as it goes
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith("teacher: ")
        assert sum(" fitted in " in line for line in lines) == 3


def test_demo_prints_both_models():
    result = subprocess.run(
        [sys.executable, "-m", "softmax_regression", "--repeats", "1"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=300,
    )
    lines = result.stdout.splitlines()
    rows = {
        line.split()[0]: line.split()
        for line in lines
        if line.split()[0:1]
        and line.split()[0].endswith(("Regression", ")"))
        and " took " not in line
    }
    # At equal accuracy, each solver at the loosest tol reaching a gap of 1e-6.
    equal = sorted(name.split(",")[0] for name in rows if ",tol=" in name)
    assert equal == ["LogisticRegression(lbfgs", "LogisticRegression(newton-cg"]
    assert set(rows) - {name for name in rows if ",tol=" in name} == {
        "SoftmaxRegression",
        "LogisticRegression",
        "LogisticRegression(newton-cg)",
    }
    ours, theirs = rows["SoftmaxRegression"], rows["LogisticRegression"]
    assert float(ours[1]) > 0.95  # test accuracy on digits
    assert abs(float(ours[4]) - float(theirs[4])) < 1e-4  # the same objective
    assert float(ours[4]) <= float(theirs[4])  # ... nearer its minimum
    assert 0 <= float(ours[5]) <= 1e-6  # the relative gap tol="auto" targets
    for name, row in rows.items():
        if "tol=" in name:
            assert float(row[5]) <= 1e-6
    assert any(line.startswith("SoftmaxRegression() took ") for line in lines)


def test_demo_without_penalty_says_the_data_are_separable(capsys):
    """digits are separable: no optimum, no gap, and no warning at runpy."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main(["--C", "inf", "--repeats", "1"])
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    out = capsys.readouterr().out
    assert "linearly separable" in out
    rows = [line.split() for line in out.splitlines() if "Regression" in line]
    assert len(rows) == 3 and all(row[-1] == "-" for row in rows)


def test_demo_help_names_the_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m softmax_regression ")
    assert "--C" in out and "--repeats" in out


@pytest.mark.parametrize(
    "arguments", [("--C", "-1"), ("--C", "0"), ("--C", "nan"), ("--repeats", "0")]
)
def test_demo_bad_arguments_are_usage_errors(arguments, capsys):
    # In process (argparse exits before any data is loaded); the subprocess
    # run of `python -m softmax_regression` is test_demo_prints_both_models.
    with pytest.raises(SystemExit) as exit_:
        main(list(arguments))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "usage: python -m softmax_regression" in err
    assert f"argument {arguments[0]}: expected a positive" in err
