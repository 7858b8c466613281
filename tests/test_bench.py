"""Smoke test of the benchmark suite (bench/run.py) at tiny sizes; no timing assertions."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "bench" / "run.py"

sys.path.insert(0, str(REPO / "bench"))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO, env=dict(os.environ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


def test_quick_run_writes_complete_json(quick_run):
    _, results = quick_run
    assert results["complete"] is True
    assert results["machine"]["cpu_model"]
    assert results["machine"]["versions"]["numba"]
    assert any(pool["user_api"] == "blas" for pool in results["machine"]["threadpools"])
    for section in ("loss_gradient", "predict_proba"):
        cases = results[section]
        # every shape in both thread counts (or 1 thread only on a 1-thread machine)
        assert len(cases) == 9 * len(results["settings"]["threads"])
        for case in cases:
            assert 0 < case["impls"]["softmax_nb"]["fma_peak_fraction"] < 1.5
            impls = case["impls"]
            assert {"softmax_nb", "numpy", "read X (numba)", "read X (numpy)"} <= set(impls)
            assert case["floor"]["ms"] > 0 and case["floor"]["source"].startswith("read X")
            assert case["ours_vs_floor"] > 0
            for name, impl in impls.items():
                assert impl["min_ms"] <= impl["median_ms"]
                assert len(impl["times_ms"]) == results["settings"]["repeats"]
                if name not in ("softmax_nb",) and not name.startswith("read X"):
                    # a peer that disagrees with softmax_nb would mean a broken peer or kernel
                    assert impl["agreement"]["agrees"], (section, case["shape"], name, impl["agreement"])
                    assert case["speedup_vs"][name] > 0
    assert {tuple(row["shape"]) for row in results["bandwidth"]} == {
        tuple(case["shape"]) for case in results["loss_gradient"]
    }
    digits = results["training"]["digits"]
    assert digits["test_accuracy"]["softmax_nb"] > 0.9
    assert digits["test_accuracy"]["sklearn"] > 0.9
    assert digits["to_objective_s"]["sklearn"]["median"] > 0
    fashion = results["training"]["fashion_mnist"]
    assert "skipped" in fashion or fashion["n_train"] == 2000
    mixed = results["mixed"]["calls"]
    assert {row["kernel"] for row in mixed} == {"loss_gradient", "predict_proba", "fit (lbfgs, 10 iterations)"}
    assert all(row["kept"] > 0 and len(row["after_blas"]["times_ms"]) == results["settings"]["repeats"]
               for row in mixed)
    spin = results["mixed"]["blas_spin"]
    if spin is not None:  # Linux: /proc/self/task
        assert 0 <= spin["runnable_for_s"] <= spin["horizon_s"] + 0.05
        assert isinstance(spin["most_runnable_threads"], int) and isinstance(spin["saturated"], bool)
    limits = results["limits"]
    assert [row["shape"] for row in limits] == [[2000, 784, 10], [1100, 1024, 1000]]
    for row in limits:
        parts = row["median_ms"]
        assert set(parts) == {"softmax_nb (whole call)", "read X in order", "gemms, block in cache",
                              "gemms, block from memory", "softmax + loss", "float64 logits", "float64 sums",
                              "numpy (whole call)", "numpy gemms"}
        assert all(ms > 0 and len(row["times_ms"][name]) == results["settings"]["repeats"]
                   for name, ms in parts.items())
        assert row["block_rows"] == (64 if row["shape"][2] == 10 else 512)
        assert set(row["fma_peak_fraction"]) == {"whole call", "gemms, block in cache", "no overlap bound"}
        # the bound adds the read to the gemms' time: never above the gemms alone
        assert row["fma_peak_fraction"]["no overlap bound"] < row["fma_peak_fraction"]["gemms, block in cache"]
    jit = results["jit"]
    assert jit["cold"]["first_calls_total_s"] > 0
    assert jit["warm"]["import_and_first_calls_s"] > 0
    small = results["small_data"]
    assert set(small["predict_proba_us"]) == {"1", "10", "100"}
    for timings in (*small["predict_proba_us"].values(), small["wine_fit_us"]):
        assert set(timings) == {"softmax_nb", "sklearn"} and min(timings.values()) > 0
    for which in ("softmax_nb", "sklearn"):
        assert small["first_fit"][which]["first_fit_s"] > 0
    assert 0 < small["first_fit"]["softmax_nb"]["numba_setup_s"] < small["first_fit"]["softmax_nb"]["first_fit_s"]


def test_quick_run_prints_tables(quick_run):
    stdout, results = quick_run
    for heading in ("Machine:", "Loss + gradient summary", "predict_proba summary", "One-read floor",
                    "Mixed workload", "stayed runnable for", "Where one loss + gradient spends its time",
                    "FMA peak", "Training:", "JIT", "Small data", "numba's one-time set-up", "JSON:"):
        assert heading in stdout
    # the headline row of the summary: ours, the floor and a ratio per peer
    assert "2000x784x10       float32" in stdout
    assert "vs numpy" in stdout


def _quick_run_of(tmp_path, *args):
    """``bench/run.py --quick ARGS``: its stdout and JSON."""
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(RUN), "--quick", *args, "--out", str(out)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


def test_shape_option_runs_only_the_shapes_named(tmp_path):
    _, results = _quick_run_of(tmp_path, "--only", "loss_gradient", "--shape", "300x20x4,200x30x3:float64")
    cases = {(tuple(case["shape"]), case["dtype"]) for case in results["loss_gradient"]}
    assert cases == {((300, 20, 4), "float32"), ((200, 30, 3), "float64")}
    assert results["settings"]["shapes"] == [[300, 20, 4, "float32"], [200, 30, 3, "float64"]]


def test_shape_option_reaches_the_limits_section(tmp_path):
    stdout, results = _quick_run_of(tmp_path, "--only", "limits", "--shape", "1000x100x20,1000x20x2")
    gemms, loops = results["limits"]
    assert gemms["shape"] == [1000, 100, 20] and gemms["median_ms"]["gemms, block in cache"] > 0
    # a two-class model of 20 features takes the register-blocked loops: no gemms, a note says so
    assert loops["shape"] == [1000, 20, 2] and "register-blocked loops" in loops["note"]
    assert "1000x20x2" in stdout and "register-blocked loops" in stdout


@pytest.mark.parametrize("args, message", [
    (["--only", "nonsense"], "unknown section 'nonsense'"),
    (["--shape", "10x5"], "--shape '10x5': expected three positive whole numbers"),
    (["--shape", "10x5x3:float16"], "--shape '10x5x3:float16': dtype must be float32 or float64"),
    (["--shape", "10x5x1"], "--shape '10x5x1': n_classes must be at least 2"),
    (["--only", "training", "--shape", "10x5x3"], "--shape applies to the sections"),
    (["--repeats", "0"], "--repeats must be at least 1"),
    (["--C", "-1"], "--C must be positive"),
])
def test_bad_arguments_are_named(args, message):
    done = subprocess.run([sys.executable, str(RUN), *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert done.returncode == 2
    assert message in done.stderr


def test_fewest_iterations_matches_a_linear_scan():
    import _sections

    for n in (1, 2, 3, 7, 100):
        for answer in range(1, n + 1):
            calls = []

            def reaches(k):
                calls.append(k)
                return k >= answer

            assert _sections._fewest_iterations(n, reaches) == answer
            assert all(1 <= k < n for k in calls)


def test_each_implementation_runs_in_its_own_turn_after_an_untimed_call():
    import _timing

    order = []
    times = _timing.in_turn({"a": lambda: order.append("a"), "b": lambda: order.append("b"),
                             "c": lambda: order.append("c")}, repeats=3)
    assert order == ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    assert all(len(v) == 3 for v in times.values())


def test_mpi_benchmark_runs_and_all_configurations_give_the_same_bits(tmp_path):
    pytest.importorskip("mpi4py")
    out = tmp_path / "mpi.json"
    done = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[1] / "bench" / "mpi.py"),
                           "--rows", "3000", "--features", "50", "--classes", "5", "--repeats", "2", "--warmup", "1",
                           "--pause", "0", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["same_bits"] is True
    assert results["2 ranks x 1 thread"]["received_bytes_per_evaluation"] > 0
    assert "2 ranks x 1 thread is" in done.stdout
