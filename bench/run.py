"""softmax_nb benchmark: kernels vs NumPy / scikit-learn / PyTorch and the one-read floor.

Usage::

    python bench/run.py [--quick] [--repeats N] [--out bench/out/results.json] [--only SECTION ...]
                        [--shape NxFxC[:DTYPE] ...]

Sections (all by default):

- ``loss_gradient``: full-batch loss + gradient, softmax_nb vs a NumPy reference,
  scikit-learn's ``LinearModelLoss(HalfMultinomialLoss)`` and PyTorch autograd;
- ``predict_proba``: class probabilities, softmax_nb vs NumPy and scikit-learn;
- ``bandwidth``: the one-read floor (time to read X once), measured inside the two
  kernel sections beside the implementations; alone it runs only the read probes;
- ``mixed``: each kernel alone and right after a NumPy product, and how long NumPy's
  BLAS workers stay runnable after it;
- ``limits``: where one loss + gradient spends its time, part by part, on one thread
  (the headline shape and the linear probe), beside NumPy's call and gemms;
- ``training``: SoftmaxClassifier(lbfgs) vs LogisticRegression(lbfgs) on digits and
  Fashion-MNIST, time to sklearn's final objective, fit time, test accuracy;
- ``elastic_net``: OWL-QN (lbfgs) and FISTA (gd) against scikit-learn's saga: the
  optimum on small binary and multiclass problems, time to saga's objective on
  Fashion-MNIST;
- ``jit``: compile time with an empty numba cache, import + first call with a warm one;
- ``small_data``: predict_proba on 1-100 rows, a wine fit and the first fit in a fresh
  process, against scikit-learn.

It prints a table and writes JSON (see bench/README.md).
"""

import os
import sys

# Some machines set these for old OpenBLAS builds; they make a current numpy pick a
# slower kernel. Drop them in this process (and its children) before numpy loads
# OpenBLAS; which kernel then runs is recorded from threadpoolctl.
REMOVED_ENV = {name: os.environ.pop(name) for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
               if name in os.environ}

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
sys.path.insert(0, str(REPO_ROOT))  # run from a fresh clone without installing
sys.path.insert(0, str(BENCH_DIR))

import numpy as np  # noqa: E402

import _limits  # noqa: E402
import _peers  # noqa: E402
import _sections  # noqa: E402
import _timing  # noqa: E402

SECTIONS = ("bandwidth", "loss_gradient", "predict_proba", "mixed", "limits", "training", "elastic_net", "jit",
            "small_data")
# The sections that --shape restricts.
SHAPE_SECTIONS = ("loss_gradient", "predict_proba", "bandwidth", "limits")
DEFAULT_OUT = BENCH_DIR / "out" / "results.json"
DEFAULT_OUT_QUICK = BENCH_DIR / "out" / "results_quick.json"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Benchmark softmax_nb against NumPy, scikit-learn, PyTorch and the one-read floor.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="small shapes and few repeats: a smoke run of every section")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per implementation and case (default 7, quick 3)")
    parser.add_argument("--train-repeats", type=int, default=None,
                        help="fits per implementation and dataset (default 2, quick 1)")
    parser.add_argument("--jit-repeats", type=int, default=None,
                        help="cold and warm subprocess runs (default 2, quick 1)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"JSON output (default {DEFAULT_OUT.relative_to(REPO_ROOT)}, "
                             f"quick {DEFAULT_OUT_QUICK.relative_to(REPO_ROOT)})")
    parser.add_argument("--only", action="append", default=None, metavar="SECTION",
                        help=f"run only these sections (repeat or comma-separate): {', '.join(SECTIONS)}")
    parser.add_argument("--shape", action="append", default=None, metavar="NxFxC[:DTYPE]",
                        help="kernel sections (loss_gradient, predict_proba, bandwidth) and limits: only "
                             "these shapes, e.g. 2000x50x5 or 60000x784x10:float64 (repeat or comma-separate; "
                             "dtype default float32)")
    parser.add_argument("--C", type=float, default=1.0, help="training: inverse L2 strength, both models")
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="training: lbfgs gradient tolerance, both models")
    parser.add_argument("--digits-max-iter", type=int, default=None,
                        help="training: lbfgs max_iter on digits (default 1000, quick 30)")
    parser.add_argument("--fashion-max-iter", type=int, default=None,
                        help="training: lbfgs max_iter on Fashion-MNIST (default 100, quick 10)")
    parser.add_argument("--enet-C", type=float, default=0.1,
                        help="elastic net: C of the small problems (default 0.1)")
    parser.add_argument("--enet-fashion-C", type=float, default=0.01,
                        help="elastic net: C on Fashion-MNIST (default 0.01)")
    parser.add_argument("--enet-fashion-max-iter", type=int, default=None,
                        help="elastic net: OWL-QN / lbfgs max_iter on Fashion-MNIST (default 1000, quick 20)")
    parser.add_argument("--sklearn-dtype", choices=("float64", "float32"), default="float64",
                        help="training: dtype of X for LogisticRegression (softmax_nb uses float32)")
    args = parser.parse_args(argv)

    sections = []
    for item in args.only or list(SECTIONS):
        for name in item.split(","):
            name = name.strip()
            if name not in SECTIONS:
                parser.error(f"unknown section {name!r}; choose from {', '.join(SECTIONS)}")
            if name not in sections:
                sections.append(name)
    args.sections = sections
    args.shapes = None
    if args.shape:
        args.shapes = []
        for item in ",".join(args.shape).split(","):
            try:
                args.shapes.append(parse_shape(item))
            except ValueError as error:
                parser.error(f"--shape {item.strip()!r}: {error}")
        if not set(sections) & set(SHAPE_SECTIONS):
            parser.error(f"--shape applies to the sections {', '.join(SHAPE_SECTIONS)}; none of them runs")
    for name in ("repeats", "train_repeats", "jit_repeats", "fashion_max_iter", "digits_max_iter",
                 "enet_fashion_max_iter"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not args.C > 0:
        parser.error(f"--C must be positive, got {args.C}")
    if not args.tol >= 0:
        parser.error(f"--tol must be non-negative, got {args.tol}")
    defaults = {"repeats": (7, 3), "train_repeats": (2, 1), "jit_repeats": (2, 1),
                "fashion_max_iter": (100, 10), "digits_max_iter": (1000, 30),
                "enet_fashion_max_iter": (1000, 20)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if args.out is None:
        args.out = DEFAULT_OUT_QUICK if args.quick else DEFAULT_OUT
    return args


def parse_shape(text):
    """``"NxFxC[:DTYPE]"`` as ``(n_samples, n_features, n_classes, dtype)``."""
    size, _, dtype = text.strip().partition(":")
    dtype = dtype or "float32"
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    parts = size.split("x")
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError("expected three positive whole numbers, n_samples x n_features x n_classes")
    n_samples, n_features, n_classes = (int(part) for part in parts)
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    return n_samples, n_features, n_classes, dtype


# -- machine -----------------------------------------------------------------


def machine_info():
    """CPU, cores, memory, library versions and the BLAS/OpenMP libraries in use."""
    info = {"platform": platform.platform(), "python": platform.python_version()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        cpuinfo = ""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and "cpu_model" not in info:
            info["cpu_model"] = value.strip()
        if key.strip() == "flags" and "simd" not in info:
            flags = set(value.split())
            info["simd"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw",
                                        "avx512vl", "avx512_vnni") if f in flags]
    info.setdefault("cpu_model", platform.processor() or "unknown")
    info["logical_cpus"] = os.cpu_count()
    if hasattr(os, "sched_getaffinity"):
        info["cpus_available"] = len(os.sched_getaffinity(0))
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    info["numba_threads"] = _timing.max_threads()
    info["versions"] = versions()
    info["removed_env"] = REMOVED_ENV
    info["numba_cache_dir"] = os.environ.get("NUMBA_CACHE_DIR")
    from threadpoolctl import threadpool_info

    # Which BLAS kernel ('architecture') numpy and scikit-learn really run.
    info["threadpools"] = [
        {k: pool.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                  "architecture", "threading_layer", "num_threads", "filepath")}
        for pool in threadpool_info()
    ]
    return info


def versions():
    import numba

    import softmax_nb

    found = {"softmax_nb": softmax_nb.__version__, "numpy": np.__version__, "numba": numba.__version__}
    for module in ("scipy", "sklearn", "torch", "threadpoolctl"):
        if _peers.available(module):
            found[module] = __import__(module).__version__
        else:
            found[module] = None
    return found


# -- output ------------------------------------------------------------------


def write_json(results, path):
    """Write results to path atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            json.dump(results, handle, indent=1, allow_nan=False, default=_json_default)
            handle.write("\n")
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _shape_text(case):
    return "x".join(str(v) for v in case["shape"])


def _fmt(value, spec=".2f", missing="-"):
    return missing if value is None else format(value, spec)


def format_bandwidth(rows):
    lines = ["", "One-read floor: time to read X once (median over repeats)",
             f"{'shape (m x n x c)':<20}{'dtype':<9}{'thr':>4}{'X MB':>9}"
             f"{'numba read ms':>15}{'GB/s':>7}{'numpy read ms':>15}{'GB/s':>7}{'floor ms':>10}"]
    for row in rows:
        numba_probe = row["probes"].get("read X (numba)", {})
        numpy_probe = row["probes"].get("read X (numpy)", {})
        lines.append(
            f"{_shape_text(row):<20}{row['dtype']:<9}{row['threads']:>4}{row['x_bytes'] / 1e6:>9.1f}"
            f"{_fmt(numba_probe.get('median_ms')):>15}{_fmt(numba_probe.get('gb_per_s'), '.1f'):>7}"
            f"{_fmt(numpy_probe.get('median_ms')):>15}{_fmt(numpy_probe.get('gb_per_s'), '.1f'):>7}"
            f"{row['floor']['ms']:>10.2f}"
        )
    return lines


def format_kernels(title, cases):
    lines = ["", f"{title} (ms; 'speedup' = peer median / softmax_nb median; "
                 "'x floor' = median / one-read floor)"]
    header = (f"  {'implementation':<16}{'median':>9}{'min':>9}{'GB/s':>7}{'GFLOP/s':>9}{'x floor':>9}"
              f"{'speedup':>9}  agreement with softmax_nb")
    for case in cases:
        lines.append(f"{_shape_text(case)} {case['dtype']}, {case['threads']} thread(s): floor "
                     f"{case['floor']['ms']:.2f} ms ({case['floor']['gb_per_s']:.1f} GB/s, "
                     f"{case['floor']['source']})")
        lines.append(header)
        for name, impl in case["impls"].items():
            if name.startswith("read X"):
                continue
            speedup = case["speedup_vs"].get(name)
            agreement = impl.get("agreement")
            if agreement is None:
                agree_text = "(reference)"
            elif "loss_rel_diff" in agreement:
                agree_text = (f"loss {agreement['loss_rel_diff']:.1e} rel, "
                              f"grad {agreement['grad_rel_diff']:.1e} rel")
            else:
                agree_text = f"max |dp| {agreement['max_abs_diff']:.1e}"
            if agreement is not None and not agreement["agrees"]:
                agree_text += "  DISAGREES: no ratio"
            lines.append(
                f"  {name:<16}{impl['median_ms']:>9.2f}{impl['min_ms']:>9.2f}{impl['gb_per_s']:>7.1f}"
                f"{_fmt(impl.get('gflop_per_s'), '.1f'):>9}"
                f"{impl['median_ms'] / case['floor']['ms']:>9.2f}"
                f"{(_fmt(speedup) + 'x') if speedup else '-':>9}  {agree_text}"
            )
        for note in case["notes"]:
            lines.append(f"  note: {note}")
    return lines


def format_summary(title, cases):
    """One line per case: ours, floor, and the speedup against each peer."""
    peers = []
    for case in cases:
        for name in case["speedup_vs"]:
            if name not in peers:
                peers.append(name)
    peak = {case["threads"]: case.get("fma_peak_g_per_s") for case in cases}
    lines = ["", f"{title} summary (softmax_nb median ms; speedup vs each peer; x floor; fraction of the "
                 "FMA peak, float32 sgemm's on the same threads: "
                 + ", ".join(f"{t} thread(s) {_fmt(g, '.1f')} G FMA/s" for t, g in sorted(peak.items())) + ")",
             f"{'shape':<18}{'dtype':<9}{'thr':>4}{'ours':>9}{'floor':>8}{'x floor':>9}{'FMA peak':>9}"
             + "".join(f"{'vs ' + p:>12}" for p in peers)]
    for case in cases:
        ratios = "".join(f"{(_fmt(case['speedup_vs'].get(p)) + 'x') if case['speedup_vs'].get(p) else '-':>12}"
                         for p in peers)
        fraction = case["impls"]["softmax_nb"].get("fma_peak_fraction")
        lines.append(f"{_shape_text(case):<18}{case['dtype']:<9}{case['threads']:>4}"
                     f"{case['impls']['softmax_nb']['median_ms']:>9.2f}{case['floor']['ms']:>8.2f}"
                     f"{case['ours_vs_floor']:>9.2f}{_fmt(fraction and 100 * fraction, '.0f') + ' %':>9}{ratios}")
    return lines


def format_mixed(results):
    lines = ["", "Mixed workload: each call alone (after 0.5 s idle) and right after a NumPy 1024^2 "
                 "float64 product (medians; 'kept' = alone / after)",
             f"  {'shape':<18}{'dtype':<9}{'thr':>4}  {'call':<28}{'alone ms':>10}{'after ms':>10}{'kept':>7}"]
    for row in results["calls"]:
        lines.append(f"  {_shape_text(row):<18}{row['dtype']:<9}{row['threads']:>4}  {row['kernel']:<28}"
                     f"{row['isolated']['median_ms']:>10.2f}{row['after_blas']['median_ms']:>10.2f}"
                     f"{100 * row['kept']:>6.0f}%")
    spin = results["blas_spin"]
    if spin is None:
        lines.append("  (no /proc/self/task here: the BLAS workers' spin is not measured)")
    elif spin["most_runnable_threads"] == 0:
        lines.append("  After the product, no other thread stayed runnable")
    else:
        longer = " (still at the end of the measured window)" if spin["saturated"] else ""
        lines.append(f"  After the product, {spin['most_runnable_threads']} other thread(s) stayed runnable for "
                     f"{spin['runnable_for_s'] * 1e3:.0f} ms{longer} and used about "
                     f"{spin['their_cpu_s'] * 1e3:.0f} ms of CPU (10 ms ticks); the {results['threads']} kernel "
                     f"threads of a call in that window share the {results['cpus']} CPUs with them")
    return lines


def format_limits(rows):
    lines = ["", "Where one loss + gradient spends its time, 1 thread (parts on the kernel's blocks; "
                 "medians; share of the whole call)"]
    for row in rows:
        if "note" in row:
            lines.append(f"  {_shape_text(row)} {row['dtype']}: {row['note']}")
            continue
        fraction = row["fma_peak_fraction"]
        lines.append(f"  {_shape_text(row)} {row['dtype']}, {row['block_rows']}-row blocks; FMA peak "
                     f"{row['fma_peak_g_per_s']:.1f} G FMA/s: whole call {100 * fraction['whole call']:.0f} %, "
                     f"gemms in cache {100 * fraction['gemms, block in cache']:.0f} %, "
                     f"no-overlap bound {100 * fraction['no overlap bound']:.0f} %")
        for name, ms in row["median_ms"].items():
            lines.append(f"    {name:<28}{ms:>10.2f} ms{100 * row['share_of_whole'][name]:>7.0f} %")
    return lines


def format_training(results):
    lines = ["", "Training: SoftmaxClassifier(lbfgs, float32) vs LogisticRegression(lbfgs), same C/tol/max_iter"]
    if "skipped" in results:
        return lines + [f"  skipped: {results['skipped']}"]
    lines.append(f"  {'dataset':<15}{'model':<12}{'fit s (med/min)':>17}{'to objective s':>16}"
                 f"{'iters':>7}{'to obj':>8}{'test acc':>10}{'objective (f64)':>18}")
    for dataset, entry in results.items():
        if "skipped" in entry:
            lines.append(f"  {dataset:<15}skipped: {entry['skipped']}")
            continue
        for model in ("softmax_nb", "sklearn"):
            fit = entry["fit_s"][model]
            to_objective = entry["to_objective_s"][model]["median"]
            lines.append(
                f"  {dataset if model == 'softmax_nb' else '':<15}{model:<12}"
                f"{fit['median']:>9.3f}/{fit['min']:<7.3f}{_fmt(to_objective, '.3f'):>16}"
                f"{entry['iterations'][model]:>7}{_fmt(entry['iterations'][model + '_to_objective'], 'd'):>8}"
                f"{entry['test_accuracy'][model]:>10.4f}{entry['objective_float64'][model]:>18.10f}"
            )
        settings = entry["settings"]
        extended = ", softmax_nb needed a longer run" if entry["softmax_nb_extended_run"] else ""
        lines.append(
            f"  {'':<15}speedup to sklearn's objective (within {entry['target_rel']:g}): "
            f"{_fmt(entry['speedup_to_objective'])}x, whole fit: {entry['speedup_fit']:.2f}x  "
            f"[{entry['n_train']} train x {entry['n_features']}, C={settings['C']:g}, "
            f"tol={settings['tol']:g}, max_iter={settings['max_iter']}, {settings['threads']} threads, "
            f"sklearn {settings['sklearn_dtype']}{extended}]"
        )
    return lines


def format_elastic_net(results):
    lines = ["", "Elastic net: OWL-QN (lbfgs) and FISTA (gd) vs scikit-learn's saga (tol 1e-10), same C and "
                 "l1_ratio; J = softmax_nb's objective (float64) at each side's parameters"]
    if "skipped" in results:
        return lines + [f"  skipped: {results['skipped']}"]
    lines.append(f"  {'problem':<15}{'l1':>5}{'saga J':>16}{'OWL-QN rel':>12}{'FISTA rel':>12}{'zeros':>8}"
                 f"{'same?':>7}{'saga s':>9}{'OWL-QN s':>10}{'FISTA s':>9}")
    for row in results["optimum"]:
        ours, fista, saga = row["lbfgs"], row["gd"], row["saga"]
        same = "yes" if ours["same_zeros"] and fista["same_zeros"] else "NO"
        lines.append(f"  {row['problem']:<15}{row['l1_ratio']:>5g}{saga['objective']:>16.12f}"
                     f"{ours['rel_to_saga']:>12.1e}{fista['rel_to_saga']:>12.1e}{ours['zero_fraction']:>8.3f}"
                     f"{same:>7}{saga['fit_s']:>9.3f}{ours['fit_s']:>10.3f}{fista['fit_s']:>9.3f}")
    fashion = results["fashion_mnist"]
    if "skipped" in fashion:
        return lines + [f"  Fashion-MNIST skipped: {fashion['skipped']}"]
    saga, owlqn, l2 = fashion["saga"], fashion["owlqn"], fashion["lbfgs_l2"]
    lines.append(f"  Fashion-MNIST {fashion['n_train']}x{fashion['n_features']}, C={fashion['C']:g}, "
                 f"l1_ratio={fashion['l1_ratio']:g}, {fashion['threads']} threads:")
    lines.append(f"    saga (tol 1e-4): {saga['fit_s']['median']:.2f} s, {saga['n_iter']} epochs, J "
                 f"{saga['objective']:.8f}, {100 * saga['zero_fraction']:.1f}% zeros, test acc {saga['test_accuracy']:.4f}")
    lines.append(f"    OWL-QN to saga's J: {_fmt(owlqn['to_saga_objective_s']['median'], '.2f')} s "
                 f"({_fmt(owlqn['iterations_to_saga'], 'd')} iterations) -> "
                 f"{_fmt(fashion['speedup_to_saga_objective'])}x faster; whole fit {owlqn['fit_s']['median']:.2f} s, "
                 f"{owlqn['n_iter']} iterations, J {owlqn['objective']:.8f}, {100 * owlqn['zero_fraction']:.1f}% zeros, "
                 f"test acc {owlqn['test_accuracy']:.4f}")
    lines.append(f"    lbfgs L2 (l1_ratio 0) same C: {l2['fit_s']['median']:.2f} s, {l2['n_iter']} iterations, "
                 f"test acc {l2['test_accuracy']:.4f}")
    return lines


def format_jit(results):
    cold, warm = results["cold"], results["warm"]
    lines = ["", "JIT (subprocesses; medians)"]
    lines.append(f"  cold, empty NUMBA_CACHE_DIR: import softmax_nb {cold['import_softmax_nb_s']:.2f} s, "
                 f"first calls {cold['first_calls_total_s']:.2f} s in all:")
    for spec, seconds in cold["first_call_s"].items():
        lines.append(f"    {spec:<28}{seconds:>8.2f} s")
    lines.append(f"  warm cache: import numpy {warm['import_numpy_s']:.2f} s, import softmax_nb "
                 f"{warm['import_softmax_nb_s']:.2f} s, first calls {warm['first_calls_total_s']:.3f} s; "
                 f"import + first calls {warm['import_and_first_calls_s']:.2f} s "
                 f"(whole process {warm['process_wall_s']:.2f} s)")
    first_spec = results["kernels"][0]
    lines.append(f"  warm import softmax_nb + first {first_spec}: "
                 f"{warm['import_softmax_nb_s'] + warm['first_call_s'][first_spec]:.2f} s")
    return lines


def format_small_data(results):
    lines = ["", "Small data (vs scikit-learn's LogisticRegression; medians; ratio = sklearn / ours)"]
    for rows, us in results["predict_proba_us"].items():
        lines.append(f"  predict_proba, digits model, {rows:>3} rows: {us['softmax_nb']:8.1f} us vs "
                     f"{us['sklearn']:8.1f} us  {us['sklearn'] / us['softmax_nb']:.2f}x")
    us = results["wine_fit_us"]
    lines.append(f"  fit, wine 178x13:                      {us['softmax_nb'] / 1e3:8.2f} ms vs "
                 f"{us['sklearn'] / 1e3:8.2f} ms  {us['sklearn'] / us['softmax_nb']:.2f}x")
    ours, theirs = results["first_fit"]["softmax_nb"], results["first_fit"]["sklearn"]
    lines.append(f"  first fit in a fresh process, wine:    {ours['first_fit_s'] * 1e3:8.1f} ms vs "
                 f"{theirs['first_fit_s'] * 1e3:8.1f} ms  {theirs['first_fit_s'] / ours['first_fit_s']:.2f}x "
                 f"(import before it: {ours['import_s'] * 1e3:.0f} vs {theirs['import_s'] * 1e3:.0f} ms)")
    lines.append(f"    of which numba's one-time set-up (its typing and target registries): "
                 f"{ours['numba_setup_s'] * 1e3:.1f} ms")
    return lines


def format_machine(info):
    v = info["versions"]
    blas = [f"{p['internal_api']} {p['version']} ({p.get('architecture') or '-'}, {p['num_threads']} thr)"
            for p in info["threadpools"] if p["user_api"] == "blas"]
    return [
        f"Machine: {info['cpu_model']}, {info.get('cpus_available', info['logical_cpus'])} CPUs available, "
        f"{info.get('memory_gib', '?')} GiB; SIMD {' '.join(info.get('simd', []))}",
        f"Versions: numba {v['numba']}, numpy {v['numpy']}, scikit-learn {v['sklearn']}, "
        f"torch {v['torch']}; BLAS: {'; '.join(blas)}",
        f"Removed from the environment: {info['removed_env'] or 'nothing'}",
    ]


def main(argv=None):
    args = parse_args(argv)

    def log(message):
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

    started = time.time()
    if args.quick:
        _timing.PAUSE_SECONDS = _timing.QUICK_PAUSE_SECONDS
    results = {
        "complete": False,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "settings": {"quick": args.quick, "repeats": args.repeats, "train_repeats": args.train_repeats,
                     "pause_s": _timing.PAUSE_SECONDS,
                     "jit_repeats": args.jit_repeats, "sections": args.sections, "shapes": args.shapes,
                     "threads": _sections.thread_counts()},
        "machine": machine_info(),
        # Other processes on a shared machine slow the 2-thread rows most of all.
        "load_average_at_start": list(os.getloadavg()),
        "missing_peers": _peers.missing_peers(),
    }
    for line in format_machine(results["machine"]):
        print(line)
    print(f"Load average at start (1, 5, 15 min): {results['load_average_at_start']}")
    for peer, note in results["missing_peers"].items():
        print(f"note: {peer} skipped: {note}")
    shapes = args.shapes or (_sections.QUICK_SHAPES if args.quick else _sections.FULL_SHAPES)

    kernel_cases = []
    for section, title in (("loss_gradient", "Loss + gradient"), ("predict_proba", "predict_proba")):
        if section in args.sections:
            cases = _sections.run_kernels(section, shapes, args.repeats, log)
            results[section] = cases
            kernel_cases += cases
            for line in format_kernels(title, cases) + format_summary(title, cases):
                print(line)
            write_json(results, args.out)
    if "mixed" in args.sections:
        results["mixed"] = {"calls": _sections.run_mixed(args.quick, args.repeats, log),
                            "blas_spin": _limits.blas_spin_window(), "threads": _timing.max_threads(),
                            "cpus": results["machine"].get("cpus_available", os.cpu_count())}
        for line in format_mixed(results["mixed"]):
            print(line)
        write_json(results, args.out)
    if "limits" in args.sections:
        results["limits"] = _limits.run_breakdown(args.quick, args.repeats, log, _sections.fma_peak, args.shapes)
        for line in format_limits(results["limits"]):
            print(line)
        write_json(results, args.out)
    if "bandwidth" in args.sections:
        if not kernel_cases:
            kernel_cases = _sections.run_kernels("bandwidth", shapes, args.repeats, log)
        results["bandwidth"] = _sections.bandwidth_from(kernel_cases)
        for line in format_bandwidth(results["bandwidth"]):
            print(line)
        write_json(results, args.out)
    if "training" in args.sections:
        results["training"] = _sections.run_training(
            args.quick, args.train_repeats, args.C, args.sklearn_dtype,
            {"digits": args.digits_max_iter, "fashion_mnist": args.fashion_max_iter}, args.tol, log,
        )
        for line in format_training(results["training"]):
            print(line)
        write_json(results, args.out)
    if "elastic_net" in args.sections:
        results["elastic_net"] = _sections.run_elastic_net(
            args.quick, args.train_repeats, args.enet_C, args.enet_fashion_C, args.enet_fashion_max_iter, log)
        for line in format_elastic_net(results["elastic_net"]):
            print(line)
        write_json(results, args.out)
    if "jit" in args.sections:
        results["jit"] = _sections.run_jit(args.quick, args.jit_repeats, log)
        for line in format_jit(results["jit"]):
            print(line)
        write_json(results, args.out)
    if "small_data" in args.sections:
        results["small_data"] = _sections.run_small_data(args.quick, args.repeats, log)
        for line in format_small_data(results["small_data"]):
            print(line)
    results["load_average_at_end"] = list(os.getloadavg())
    results["complete"] = True
    results["elapsed_s"] = time.time() - started
    write_json(results, args.out)
    print(f"\nJSON: {args.out} ({results['elapsed_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
