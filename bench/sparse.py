"""Sparse (CSR) benchmark: loss + gradient and an L-BFGS fit against scikit-learn and SciPy.

    python bench/sparse.py                          # 200000 x 2^18, ~100 nonzeros a row, 20 classes
    python bench/sparse.py --rows 20000 --repeats 3 # smaller
    python bench/sparse.py --dataset text --sections loss_gradient,fit   # real text

Data: synthetic text-like CSR, float64: column frequencies Zipf-like (p_j ~ 1/j^1.1),
``--nnz`` draws of columns a row (duplicates summed), values log(1 + count), labels from
a planted linear model with Gumbel noise; or (``--dataset text``) the docstrings of the
installed packages, labelled by package (bench/text_dataset.py).

- **loss + gradient** at the same random parameters, medians of ``--repeats`` calls,
  interleaved, each implementation with 1 and with 2 threads:
  softmax_nb's CSR kernels, scikit-learn's
  ``LinearModelLoss(HalfMultinomialLoss)`` (``n_threads``), and a SciPy two-pass
  reference (``X @ coef.T``, softmax in NumPy, ``X.T @ D``). Every result is checked
  against softmax_nb's before it is timed.
- **fit**: ``LogisticRegression(lbfgs)`` with ``--max-iter`` and ``SoftmaxClassifier(lbfgs)``
  with up to 3x as many, the same C, on ``--fit-rows`` rows; their times and final
  objectives (J of each fit computed by softmax_nb's objective), and the time
  softmax_nb needs to reach scikit-learn's final objective (from its history).
- **memory**: the peak RSS of a fit (``--memory-max-iter`` iterations, each
  implementation in its own process, the high-water mark reset after the data are
  loaded), against the bytes of the CSR + coef (the issue's yardstick, plus a CSC copy
  for an implementation that makes one: neither does); on ``--fit-rows`` rows
  and on 2000 x 5e6 with 20 nonzeros a row (5 classes).

Writes JSON (``-o``, default bench/out/sparse.json).
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def text_like(n_samples, n_features, nnz, n_classes, seed=0):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_features + 1) ** 1.1
    p /= p.sum()
    cols = rng.choice(n_features, size=(n_samples, nnz), p=p)
    rows = np.repeat(np.arange(n_samples), nnz)
    X = sp.csr_matrix((np.ones(rows.size), (rows, cols.ravel())), shape=(n_samples, n_features))
    X.sum_duplicates()
    X.data = np.log1p(X.data)
    w = rng.standard_normal((n_classes, n_features)) * 0.5
    y = np.argmax(X @ w.T + rng.gumbel(size=(n_samples, n_classes)), axis=1)
    return X, y


def docstrings(log):
    """The real text dataset of bench/text_dataset.py (built once into bench/out/text)."""
    from softmax_nb.data.sources import load_svmlight

    folder = ROOT / "bench" / "out" / "text"
    if not (folder / "docstrings.svmlight").exists():
        log("building the docstrings dataset (bench/text_dataset.py)")
        import subprocess

        subprocess.run([sys.executable, str(ROOT / "bench" / "text_dataset.py"), "-o", str(folder)], check=True)
    X, y, _ = load_svmlight(folder / "docstrings.svmlight", folder / "vocabulary.txt")
    return X, y.astype(np.int64)


def scipy_two_pass(X, y, coef, intercept, l2):
    n = X.shape[0]
    logits = np.asarray(X @ coef.T) + intercept
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    total = exp.sum(axis=1, keepdims=True)
    loss = float(np.mean(np.log(total[:, 0]) - logits[np.arange(n), y])) + 0.5 * l2 * float(np.sum(coef * coef))
    D = exp / total
    D[np.arange(n), y] -= 1.0
    D /= n
    grad_coef = np.asarray(X.T @ D).T + l2 * coef
    return loss, grad_coef, D.sum(axis=0)


def time_calls(functions, repeats):
    times = {name: [] for name in functions}
    names = list(functions)
    for repeat in range(repeats):
        order = names[repeat % len(names):] + names[:repeat % len(names)]
        for name in order:
            started = time.perf_counter()
            functions[name]()
            times[name].append(time.perf_counter() - started)
    return {name: {"median_s": float(np.median(t)), "min_s": float(np.min(t)), "times": t} for name, t in times.items()}


def loss_gradient_section(X, y, n_classes, repeats, log):
    import numba
    from sklearn._loss.loss import HalfMultinomialLoss
    from sklearn.linear_model._linear_loss import LinearModelLoss
    from threadpoolctl import threadpool_limits

    from softmax_nb.kernels import sparse

    rng = np.random.default_rng(1)
    coef, intercept = rng.standard_normal((n_classes, X.shape[1])) * 0.01, rng.standard_normal(n_classes) * 0.01
    l2 = 1.0 / X.shape[0]
    ours = lambda: sparse.loss_gradient(X, y, coef, intercept, None, l2, 0.0)  # noqa: E731
    model_loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=n_classes), fit_intercept=True)
    packed = np.hstack([coef, intercept[:, None]]).ravel(order="F")
    y_float = y.astype(np.float64)
    results = {}
    reference = ours()
    for threads in (1, 2):
        numba.set_num_threads(threads)

        def theirs(threads=threads):
            return model_loss.loss_gradient(packed, X, y_float, l2_reg_strength=l2, n_threads=threads)

        with threadpool_limits(threads):
            loss, grad = theirs()
            grad = grad.reshape((n_classes, X.shape[1] + 1), order="F")
            assert abs(loss - reference[0]) <= 1e-10 * abs(reference[0]), (loss, reference[0])
            assert np.allclose(grad[:, :-1], reference[1], rtol=1e-8, atol=1e-12)
            two_pass = scipy_two_pass(X, y, coef, intercept, l2)
            assert abs(two_pass[0] - reference[0]) <= 1e-10 * abs(reference[0])
            assert np.allclose(two_pass[1], reference[1], rtol=1e-8, atol=1e-12)
            time.sleep(0.5)
            timed = time_calls({"softmax_nb": ours, "sklearn LinearModelLoss": theirs,
                                "scipy two-pass": lambda: scipy_two_pass(X, y, coef, intercept, l2)}, repeats)
        results[f"{threads} thread(s)"] = timed
        log(f"loss+gradient, {threads} thread(s): " + ", ".join(
            f"{name} {1e3 * value['median_s']:.1f} ms" for name, value in timed.items()))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return results


def fit_section(X, y, C, max_iter, log):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from softmax_nb import SoftmaxClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    time.sleep(0.5)
    started = time.perf_counter()
    theirs = LogisticRegression(C=C, max_iter=max_iter, tol=1e-8).fit(X, y)
    their_seconds = time.perf_counter() - started
    time.sleep(0.5)
    started = time.perf_counter()
    # Up to 3x the iterations: the time to reach scikit-learn's final objective is read
    # from the history, even where L-BFGS's path needs more iterations here.
    ours = SoftmaxClassifier(C=C, max_iter=3 * max_iter, tol=1e-8).fit(X, y)
    our_seconds = time.perf_counter() - started
    twin = SoftmaxClassifier(C=C, max_iter=0).fit(X, y)  # the same classes; its parameters replaced
    twin.coef_, twin.intercept_ = theirs.coef_, theirs.intercept_
    their_objective = twin.objective(X, y)
    our_objective = ours.objective(X, y)
    losses = np.array(ours.history_["loss"])
    reached = np.flatnonzero(losses <= their_objective)
    reach_seconds = float(ours.history_["time"][reached[0]]) if reached.size else None
    result = {"C": C, "max_iter": max_iter, "sklearn_seconds": their_seconds, "sklearn_n_iter": int(theirs.n_iter_[0]),
              "sklearn_objective": their_objective, "softmax_nb_seconds": our_seconds,
              "softmax_nb_n_iter": int(ours.n_iter_[0]), "softmax_nb_objective": our_objective,
              "softmax_nb_seconds_to_sklearn_objective": reach_seconds}
    log(f"fit: sklearn {their_seconds:.2f} s ({result['sklearn_n_iter']} it, J={their_objective:.10g}); softmax_nb "
        f"{our_seconds:.2f} s ({result['softmax_nb_n_iter']} it, J={our_objective:.10g}); softmax_nb reaches "
        f"sklearn's J after {reach_seconds if reach_seconds is None else round(reach_seconds, 2)} s")
    return result


def _memory_child(npz_path, y_path, implementation, C, max_iter):
    """In a fresh process: peak RSS of one fit above the RSS before the data were loaded.

    The kernels are compiled (from the cache) on a tiny fit first; /proc/self/clear_refs
    resets the high-water mark after the data are loaded, so VmHWM is the fit's peak.
    """
    import gc

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from softmax_nb import SoftmaxClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)

    def status(field):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) * 1024
        raise RuntimeError(field)

    make = (lambda: SoftmaxClassifier(C=C, max_iter=max_iter)) if implementation == "softmax_nb" else \
        (lambda: LogisticRegression(C=C, max_iter=max_iter))
    tiny = sp.random(50, 30, density=0.3, format="csr", random_state=0)
    make().fit(tiny, np.arange(50) % 3)
    gc.collect()
    baseline = status("VmRSS")
    X, y = sp.load_npz(npz_path).tocsr(), np.load(y_path)
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    started = time.perf_counter()
    clf = make().fit(X, y)
    seconds = time.perf_counter() - started
    peak = status("VmHWM")
    print(json.dumps({"peak_above_baseline": peak - baseline, "seconds": seconds,
                      "coef_bytes": int(np.asarray(clf.coef_).nbytes)}))


def memory_section(cases, C, max_iter, log):
    """Peak RSS of a fit (each implementation in its own process) against the bytes of
    the CSR + coef (a CSC copy would count too: neither implementation makes one)."""
    import subprocess
    import tempfile

    results = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (X, y, n_classes) in cases.items():
            npz, labels = Path(folder) / "X.npz", Path(folder) / "y.npy"
            sp.save_npz(npz, X, compressed=False)
            np.save(labels, y)
            csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
            coef_bytes = (1 if n_classes == 2 else n_classes) * X.shape[1] * 8
            row = {"case": name, "shape": list(X.shape), "nnz": int(X.nnz), "n_classes": n_classes,
                   "csr_bytes": csr_bytes, "coef_bytes": coef_bytes}
            for implementation in ("softmax_nb", "sklearn"):
                time.sleep(0.5)
                done = subprocess.run([sys.executable, __file__, "--memory-child", str(npz), str(labels),
                                       implementation, str(C), str(max_iter)],
                                      capture_output=True, text=True, check=True)
                row[implementation] = json.loads(done.stdout.strip().splitlines()[-1])
            reference = csr_bytes + coef_bytes
            row["softmax_nb_ratio"] = row["softmax_nb"]["peak_above_baseline"] / reference
            row["sklearn_ratio"] = row["sklearn"]["peak_above_baseline"] / reference
            log(f"memory {name}: CSR + coef {reference / 2**20:.0f} MiB; peak above baseline softmax_nb "
                f"{row['softmax_nb']['peak_above_baseline'] / 2**20:.0f} MiB ({row['softmax_nb_ratio']:.2f}x), "
                f"sklearn {row['sklearn']['peak_above_baseline'] / 2**20:.0f} MiB ({row['sklearn_ratio']:.2f}x)")
            results.append(row)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("synthetic", "text"), default="synthetic",
                        help="text: the docstrings of installed packages (bench/text_dataset.py, built into "
                             "bench/out/text when missing); --rows, --features, --nnz and --classes are then "
                             "the file's")
    parser.add_argument("--rows", type=int, default=200000)
    parser.add_argument("--features", type=int, default=2**18)
    parser.add_argument("--nnz", type=int, default=100)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fit-rows", type=int, default=50000)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "bench" / "out" / "sparse.json")
    parser.add_argument("--sections", default="loss_gradient,fit,memory",
                        help="comma-separated: loss_gradient, fit, memory (peak RSS of fits, each in its own "
                             "process, on --fit-rows rows and on 2000 x 5e6 with 20 nonzeros a row, 5 classes)")
    parser.add_argument("--memory-max-iter", type=int, default=30)
    parser.add_argument("--memory-child", nargs=5, metavar=("X_NPZ", "Y_NPY", "IMPL", "C", "MAX_ITER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        npz, labels, implementation, C, max_iter = args.memory_child
        _memory_child(npz, labels, implementation, float(C), int(max_iter))
        return 0

    def log(message):
        print(f"[sparse {time.strftime('%H:%M:%S')}] {message}", flush=True)

    if args.dataset == "text":
        X, y = docstrings(log)
        args.classes = int(y.max()) + 1
    else:
        X, y = text_like(args.rows, args.features, args.nnz, args.classes)
    log(f"data ({args.dataset}): {X.shape[0]} x {X.shape[1]}, {X.nnz} nonzeros ({X.nnz / X.shape[0]:.1f} a row), "
        f"{args.classes} classes, float64")
    sections = set(args.sections.split(","))
    results = {"dataset": args.dataset, "shape": [X.shape[0], X.shape[1], args.classes], "nnz": int(X.nnz)}
    if "loss_gradient" in sections:
        results["loss_gradient"] = loss_gradient_section(X, y, args.classes, args.repeats, log)
    rows = min(args.fit_rows, X.shape[0])
    if "fit" in sections:
        results["fit"] = fit_section(X[:rows], y[:rows], args.C, args.max_iter, log)
    if "memory" in sections:
        wide_X, wide_y = text_like(2000, 5_000_000, 20, 5, seed=3)
        cases = {f"{rows} x {X.shape[1]}": (X[:rows], y[:rows], args.classes),
                 "2000 x 5e6, 20 nonzeros a row": (wide_X, wide_y, 5)}
        results["memory"] = memory_section(cases, args.C, args.memory_max_iter, log)
    if "loss_gradient" in results:
        print(f"\nloss + gradient, {X.shape[0]} x {X.shape[1]} CSR ({X.nnz / X.shape[0]:.0f} nonzeros a row), "
              f"{args.classes} classes, median of {args.repeats}")
    for threads, timed in results.get("loss_gradient", {}).items():
        ours = timed["softmax_nb"]["median_s"]
        cells = [f"softmax_nb {1e3 * ours:.1f} ms"] + [
            f"{name} {1e3 * value['median_s']:.1f} ms ({value['median_s'] / ours:.2f}x)"
            for name, value in timed.items() if name != "softmax_nb"]
        print(f"  {threads}: " + "; ".join(cells))
    fit = results.get("fit")
    if fit:
        reach = fit["softmax_nb_seconds_to_sklearn_objective"]
        print(f"fit on {rows} rows, C={args.C}, max_iter={args.max_iter}: LogisticRegression "
              f"{fit['sklearn_seconds']:.2f} s, SoftmaxClassifier {fit['softmax_nb_seconds']:.2f} s; to "
              "scikit-learn's final objective: "
              + ("not reached" if reach is None else f"{reach:.2f} s ({fit['sklearn_seconds'] / reach:.2f}x)"))
    if "memory" in results:
        print("peak RSS of a fit above the interpreter's baseline (own process each), against "
              "CSR + coef")
        for row in results["memory"]:
            reference = row["csr_bytes"] + row["coef_bytes"]
            print(f"  {row['case']}: reference {reference / 2**20:.0f} MiB; softmax_nb "
                  f"{row['softmax_nb']['peak_above_baseline'] / 2**20:.0f} MiB ({row['softmax_nb_ratio']:.2f}x); "
                  f"scikit-learn {row['sklearn']['peak_above_baseline'] / 2**20:.0f} MiB ({row['sklearn_ratio']:.2f}x)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
