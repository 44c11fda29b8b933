"""Paired comparison of two evaluation runs (lmac_brain.evaluation.paired, recipes/ESC50/interpret/compare.py)."""

import subprocess
import sys

import pytest

from lmac_brain.evaluation.paired import paired_differences
from lmac_brain.evaluation.tables import write_results


def _rows(method, values, offset=0.0):
    # one budget row and one faithfulness row per item, as eval.py writes them
    rows = []
    for i, v in enumerate(values):
        rows.append({"set": "in_domain", "method": method, "item": f"c{i}", "Del AUC": v + offset})
        rows.append({"set": "in_domain", "method": method, "item": f"c{i}", "Fid-In": 1.0})
    return rows


def test_a_small_consistent_difference_is_found_where_per_method_intervals_overlap():
    base = [0.05 * i for i in range(20)]  # items of very different difficulty
    a, b = _rows("A", base, offset=0.01), _rows("B", base)
    d = paired_differences(a, b, "A", "B")["in_domain"]
    assert abs(d["Del AUC"]["mean"] - 0.01) < 1e-9 and d["Del AUC"]["ci95"] < 1e-9 and d["Del AUC"]["n"] == 20
    assert d["Fid-In"]["mean"] == 0.0
    # only the shared items count
    assert paired_differences(a[:10], b, "A", "B")["in_domain"]["Del AUC"]["n"] == 5


@pytest.mark.slow
def test_compare_script_prints_the_table_and_explains_bad_input(tmp_path, repo_root):
    write_results(str(tmp_path / "a"), _rows("L-MAC", [0.1, 0.2, 0.3, 0.4], offset=0.05))
    write_results(str(tmp_path / "b"), _rows("L-MAC", [0.1, 0.21, 0.29, 0.4]))
    script = str(repo_root / "recipes/ESC50/interpret/compare.py")
    out = subprocess.run(
        [
            sys.executable,
            script,
            str(tmp_path / "a/results.csv"),
            str(tmp_path / "b/results.csv"),
            "--names",
            "new",
            "old",
            "--metrics",
            "Del AUC",
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "| in_domain | Del AUC (down) | 0.3 | 0.25 | +0.05 ± 0.013 | 4 | old | 1.2 [" in out.stdout
    bad = subprocess.run(
        [sys.executable, script, str(tmp_path / "a/results.csv"), str(tmp_path / "missing.csv")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "No results file" in bad.stderr and "Traceback" not in bad.stderr
    other = subprocess.run(
        [
            sys.executable,
            script,
            str(tmp_path / "a/results.csv"),
            str(tmp_path / "b/results.csv"),
            "--methods",
            "L-MAC",
            "Energy",
        ],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 2 and "No rows of method 'Energy'" in other.stderr


def test_ratio_of_means_has_a_paired_bootstrap_interval_that_narrows_with_items():
    import random

    from lmac_brain.evaluation.paired import ratio_of_means

    rng = random.Random(0)

    def pairs(n):  # items of varied difficulty, A keeps 80% of B's score with some per-item noise
        out = []
        for _ in range(n):
            b = rng.uniform(0.2, 0.9)
            out.append((0.8 * b + rng.gauss(0.0, 0.03), b))
        return out

    small, large = ratio_of_means(pairs(16)), ratio_of_means(pairs(400))
    for r in (small, large):
        assert r["low"] < 0.8 < r["high"] and r["low"] < r["ratio"] < r["high"]
    assert large["high"] - large["low"] < 0.5 * (small["high"] - small["low"])
    fixed = pairs(16)
    assert ratio_of_means(fixed, seed=3) == ratio_of_means(fixed, seed=3)  # seeded
    # undefined where B's mean is 0; no interval from one item
    assert ratio_of_means([(1.0, 0.0), (2.0, 0.0)])["ratio"] is None
    assert ratio_of_means([(1.0, 2.0)]) == {"ratio": 0.5, "low": None, "high": None}


def test_runs_equal_up_to_float_noise_are_a_tie():
    from lmac_brain.evaluation.paired import paired_markdown

    base = [0.05 * i for i in range(20)]
    a, b = _rows("A", base, offset=2e-6), _rows("B", base)  # the stored interval rounds to 0
    table = paired_markdown(paired_differences(a, b, "A", "B", metrics=["Del AUC"]), "A", "B")
    assert "| tie |" in table.splitlines()[2], table
    a = _rows("A", base, offset=0.001)  # a consistent difference above the rounding is still found
    assert "| B |" in paired_markdown(paired_differences(a, b, "A", "B", metrics=["Del AUC"]), "A", "B").splitlines()[2]
