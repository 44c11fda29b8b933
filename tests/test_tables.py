"""Tests of lmac_brain.evaluation.tables: small-sample intervals, undefined values, combining runs."""

import json
import math
import subprocess
import sys

import pytest
from limits import HANG_S

from lmac_brain.evaluation.tables import mean_ci, merge_results, read_results, write_results


def test_interval_uses_the_t_quantile():
    values = [0.2, 0.4, 0.5, 0.9]  # n = 4: t(3) = 3.182, not 1.96
    mean = sum(values) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    stat = mean_ci(values)
    assert stat["mean"] == pytest.approx(mean)
    assert stat["ci95"] == pytest.approx(3.1824 * sd / 2, abs=1e-3)
    # Large n: close to the normal value.
    many = [float(i % 7) for i in range(2000)]
    m = sum(many) / len(many)
    sd = math.sqrt(sum((v - m) ** 2 for v in many) / (len(many) - 1))
    assert mean_ci(many)["ci95"] == pytest.approx(1.9612 * sd / math.sqrt(len(many)), rel=1e-3)


def test_interval_of_one_value_is_undefined():
    assert mean_ci([0.3]) == {"mean": 0.3, "ci95": None, "n": 1, "undefined": 0}
    assert mean_ci([float("nan")])["mean"] is None


def test_summary_round_trip_keeps_undefined_values(tmp_path):
    rows = [
        {"set": "sanity", "method": "m", "item": str(i), "Spearman (head)": v}
        for i, v in enumerate([0.1, float("nan"), 0.3])
    ]
    summary = write_results(str(tmp_path), rows)
    assert summary["sanity"]["m"]["Spearman (head)"]["undefined"] == 1
    again = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))  # valid JSON, no NaN
    assert again["sanity"]["m"]["Spearman (head)"]["n"] == 2
    assert "(1 undefined)" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert read_results(str(tmp_path / "results.csv"))[1]["Spearman (head)"] == "nan"


def test_later_runs_replace_their_sets_only():
    full = [{"set": s, "method": m, "item": "a", "AI": 1.0} for s in ("in_domain", "sanity") for m in ("x", "y")]
    rerun = [{"set": "sanity", "method": "x", "item": i, "AI": 2.0} for i in ("a", "b")]
    merged = merge_results([full, rerun])
    assert sorted((r["set"], r["method"], r["item"], r["AI"]) for r in merged) == [
        ("in_domain", "x", "a", 1.0),
        ("in_domain", "y", "a", 1.0),
        ("sanity", "x", "a", 2.0),
        ("sanity", "x", "b", 2.0),
        ("sanity", "y", "a", 1.0),
    ]


@pytest.mark.slow
def test_summarize_script_combines_and_reports_bad_input(tmp_path, repo_root):
    write_results(
        str(tmp_path / "full"),
        [{"set": "in_domain", "method": "m", "item": i, "AI": float(i)} for i in range(3)],
        "Full run",
    )
    curves = [
        {
            "set": "mixtures",
            "method": "Energy",
            "item": i,
            "Ins@0.1": 0.2 + 0.1 * i,
            "Ins@0.5": 0.5,
            "Del@0.1": 0.1,
            "Del@0.5": 0.05,
        }
        for i in range(2)
    ]
    write_results(str(tmp_path / "curves"), curves, "Curves run")
    write_results(
        str(tmp_path / "part"), [{"set": "sanity", "method": "m", "item": "a", "Spearman (head)": 0.5}], "Part run"
    )
    script = str(repo_root / "recipes/ESC50/interpret/summarize.py")
    out = tmp_path / "combined"
    proc = subprocess.run(
        [
            sys.executable,
            script,
            str(tmp_path / "full/results.csv"),
            str(tmp_path / "part/results.csv"),
            str(tmp_path / "curves/results.csv"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["in_domain"]["m"]["AI"]["n"] == 3 and summary["sanity"]["m"]["Spearman (head)"]["mean"] == 0.5
    text = (out / "summary.md").read_text(encoding="utf-8")
    assert "Full run" in text and "Part run" in text
    # the combined curves get their figure; sets without curves get none
    assert (out / "budget_curves_mixtures.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "budget_curves_in_domain.png").exists()
    bad = subprocess.run(
        [sys.executable, script, str(tmp_path / "nope.csv"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=HANG_S,
    )
    assert bad.returncode == 2 and "nope.csv" in bad.stderr and "Traceback" not in bad.stderr
