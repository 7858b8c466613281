"""The benchmark sections: kernels (with the read floor), training, JIT.

Each ``run_*`` function returns a JSON-ready dict; ``bench/run.py`` prints and
writes them.
"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import _peers
import _timing

# (n_samples, n_features, n_classes, dtype): the headline shape in both dtypes,
# then many classes, few features, wide, a linear probe (many classes and features),
# binary, tiny and mid-sized.
FULL_SHAPES = [
    (60000, 784, 10, "float32"),
    (60000, 784, 10, "float64"),
    (100000, 100, 100, "float32"),
    (500000, 16, 26, "float32"),
    (10000, 4096, 10, "float32"),
    (20000, 1024, 1000, "float32"),
    (100000, 128, 2, "float32"),
    (2000, 50, 5, "float32"),
    (50000, 300, 50, "float32"),
]
# The same regimes at sizes that run in seconds (smoke test, development).
QUICK_SHAPES = [
    (2000, 784, 10, "float32"),
    (2000, 784, 10, "float64"),
    (3000, 100, 100, "float32"),
    (20000, 16, 26, "float32"),
    (500, 4096, 10, "float32"),
    (500, 1024, 1000, "float32"),
    (5000, 128, 2, "float32"),
    (2000, 50, 5, "float32"),
    (2000, 300, 50, "float32"),
]
# The shapes of the mixed-workload section: the headline one and many classes.
MIXED_SHAPES = {"full": [(60000, 784, 10, "float32"), (100000, 100, 100, "float32")],
                "quick": [(2000, 784, 10, "float32"), (3000, 100, 100, "float32")]}

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_REL = 1e-6  # "reached sklearn's final objective" means within this relative gap


def thread_counts():
    """1 thread, and all of numba's threads when there are more."""
    return sorted({1, _timing.max_threads()})


def synthetic_problem(n_samples, n_features, n_classes, dtype, seed=0):
    """Random X, labels and parameters whose logits are of order 1.

    The values do not change the work a kernel does, but logits of order 1 keep
    every probability away from 0 and 1, where a wrong gradient would hide.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features), dtype=np.float32).astype(dtype, copy=False)
    y = rng.integers(0, n_classes, n_samples).astype(np.int64)
    coef = rng.normal(0.0, 1.0 / np.sqrt(n_features), (n_classes, n_features))
    intercept = rng.normal(0.0, 0.1, n_classes)
    return X, y, coef, intercept


# Floating-point operations per call, for a compute roofline beside the read floor:
# logits 2mnc, plus the gradient X^T G another 2mnc (an FMA is two of them).
FLOPS_PER_ELEMENT = {"loss_gradient": 4, "predict_proba": 2, "bandwidth": 0}

_PEAK = {}


def fma_peak(n_threads, size=3072, repeats=3):
    """This machine's demonstrated float32 FMA rate (G FMA/s) on ``n_threads`` threads:
    OpenBLAS's sgemm on a size x size product (size^3 FMAs), the fastest of repeats.

    Measured once per thread count and run, before the kernel cases: the fraction of
    it that each case reaches is printed beside the case. (A hand-written FMA loop in
    numba is bound by its loads and stores, not by the FMA units: sgemm is what the
    cores demonstrably do.)
    """
    if n_threads not in _PEAK:
        a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
        with _timing.threads(n_threads):
            a @ a
            best = min(_timing.wall(lambda: a @ a) for _ in range(repeats))
        _PEAK[n_threads] = size**3 / best / 1e9
    return _PEAK[n_threads]


def _case_result(section, shape, X, n_threads, timings, agreement, notes):
    """Summaries, ratios and floor of one (shape, dtype, threads) case."""
    flops = FLOPS_PER_ELEMENT[section] * shape[0] * shape[1] * shape[2]
    peak = fma_peak(n_threads) if flops else None
    impls = {}
    for name, seconds in timings.items():
        impls[name] = _timing.summary(seconds)
        impls[name]["gb_per_s"] = X.nbytes / 1e9 / (impls[name]["median_ms"] / 1e3)
        if flops and not name.startswith("read X"):
            impls[name]["gflop_per_s"] = flops / 1e9 / (impls[name]["median_ms"] / 1e3)
            # FMAs are half the flops; the peak is float32 sgemm's on the same threads.
            impls[name]["fma_peak_fraction"] = impls[name]["gflop_per_s"] / 2 / peak
        if name in agreement:
            impls[name]["agreement"] = agreement[name]
    probes = [name for name in impls if name.startswith("read X")]
    floor_name = min(probes, key=lambda name: impls[name]["median_ms"])
    floor_ms = impls[floor_name]["median_ms"]
    ours = impls["softmax_nb"]["median_ms"] if "softmax_nb" in impls else None
    ratios = {}
    for name in impls:
        if ours is None or name == "softmax_nb" or name in probes:
            continue
        # A peer whose result differs from ours gets no ratio: speed against a
        # wrong implementation means nothing.
        agrees = agreement.get(name, {}).get("agrees", True)
        ratios[name] = impls[name]["median_ms"] / ours if agrees else None
    return {
        "section": section,
        "shape": list(shape[:3]),
        "dtype": shape[3],
        "threads": n_threads,
        "x_bytes": int(X.nbytes),
        "flops": flops,
        "impls": impls,
        "floor": {"ms": floor_ms, "source": floor_name, "gb_per_s": impls[floor_name]["gb_per_s"]},
        "fma_peak_g_per_s": peak,
        "speedup_vs": ratios,
        "ours_vs_floor": ours / floor_ms if ours is not None else None,
        "notes": notes,
    }


def run_kernels(section, shapes, repeats, log):
    """Time one kernel section over shapes x thread counts, with the read probes.

    Parameters
    ----------
    section : {"loss_gradient", "predict_proba", "bandwidth"}
        "bandwidth" times the read probes alone.
    shapes : list of (n_samples, n_features, n_classes, dtype)
    repeats : int
    log : callable
        Progress lines.

    Returns
    -------
    list of dict
        One entry per case (see ``_case_result``).
    """
    missing = _peers.missing_peers()
    results = []
    for shape in shapes:
        n_samples, n_features, n_classes, dtype = shape
        X, y, coef, intercept = synthetic_problem(n_samples, n_features, n_classes, dtype)
        l2_reg_strength = 1.0 / n_samples  # C = 1, as LogisticRegression's default
        for n_threads in thread_counts():
            log(f"{section}: {n_samples}x{n_features}x{n_classes} {dtype}, {n_threads} thread(s)")
            notes = []
            with _timing.threads(n_threads):
                if section == "loss_gradient":
                    impls = _peers.loss_gradient_impls(X, y, coef, intercept, l2_reg_strength, n_threads)
                    notes += [note for peer, note in missing.items()]
                elif section == "predict_proba":
                    impls = _peers.predict_proba_impls(X, coef, intercept)
                    if "sklearn" in missing:
                        notes.append(missing["sklearn"])
                else:
                    impls = {}
                agreement = {}
                if impls:
                    # First calls compile/load kernels and warm caches; their results
                    # check every peer against ours before any timing.
                    reference = impls["softmax_nb"]()
                    check = (_peers.loss_gradient_agreement if section == "loss_gradient"
                             else _peers.proba_agreement)
                    for name, call in impls.items():
                        if name != "softmax_nb":
                            agreement[name] = check(reference, call(), dtype)
                            if not agreement[name]["agrees"]:
                                notes.append(f"{name} disagrees with softmax_nb: {agreement[name]}")
                impls.update(_timing.read_probes(X))
                timings = _timing.in_turn(impls, repeats)
            results.append(_case_result(section, shape, X, n_threads, timings, agreement, notes))
        del X
    return results


def bandwidth_from(cases):
    """The read-probe rows of kernel cases, one per (shape, dtype, threads)."""
    rows = []
    seen = set()
    for case in cases:
        key = (tuple(case["shape"]), case["dtype"], case["threads"])
        if key in seen:
            continue
        seen.add(key)
        probes = {name: {k: case["impls"][name][k] for k in ("median_ms", "min_ms", "gb_per_s")}
                  for name in case["impls"] if name.startswith("read X")}
        rows.append({"shape": case["shape"], "dtype": case["dtype"], "threads": case["threads"],
                     "x_bytes": case["x_bytes"], "measured_in": case["section"],
                     "probes": probes, "floor": case["floor"]})
    return rows


# -- mixed workload ----------------------------------------------------------


def run_mixed(quick, repeats, log, pause=0.5, blas_size=1024):
    """Each kernel alone, and right after a NumPy matrix product (as real code calls it).

    For every shape of :data:`MIXED_SHAPES`, all threads: softmax_nb's loss + gradient
    and predict_proba, timed ``repeats`` times after ``pause`` s of sleep (isolated), and
    ``repeats`` times right after a ``blas_size``^2 float64 product (``a @ a``, on
    OpenBLAS's default threads); ``kept`` = isolated median / mixed median. A fit is the
    third case: SoftmaxClassifier(lbfgs, 10 iterations), isolated and right after the
    product.
    """
    from softmax_nb import SoftmaxClassifier, kernels

    n_threads = _timing.max_threads()
    a = np.random.default_rng(0).standard_normal((blas_size, blas_size))
    results = []
    for shape in MIXED_SHAPES["quick" if quick else "full"]:
        n_samples, n_features, n_classes, dtype = shape
        X, y, coef, intercept = synthetic_problem(n_samples, n_features, n_classes, dtype)
        cases = {
            "loss_gradient": lambda: kernels.loss_gradient(X, y, coef, intercept, None, 1.0 / n_samples),
            "predict_proba": lambda: kernels.predict_proba(X, coef, intercept),
            "fit (lbfgs, 10 iterations)": lambda: SoftmaxClassifier(max_iter=10, tol=1e-12).fit(X, y),
        }
        warnings.simplefilter("ignore")
        for name, call in cases.items():
            call()
            log(f"mixed: {name}, {n_samples}x{n_features}x{n_classes} {dtype}")
            isolated, mixed = [], []
            for _ in range(repeats):
                time.sleep(pause)
                isolated.append(_timing.wall(call))
                time.sleep(pause)
                a @ a
                mixed.append(_timing.wall(call))
            results.append({"shape": list(shape[:3]), "dtype": dtype, "threads": n_threads, "kernel": name,
                            "isolated": _timing.summary(isolated), "after_blas": _timing.summary(mixed),
                            "kept": float(np.median(isolated) / np.median(mixed))})
    return results


# -- training ----------------------------------------------------------------


def _digits(quick):
    from softmax_nb import data as datasets

    X, y, _ = datasets.load_digits()
    train, _, test = datasets.stratified_split(y, 0.0, 0.25, seed=0)
    scaling = datasets.fit_standardization(X[train])
    X = datasets.apply_standardization(X, scaling, dtype=np.float64)
    return X[train], y[train], X[test], y[test], "standardized (train mean/scale), 25% stratified test split"


def _fashion_mnist(quick):
    from softmax_nb import data as datasets

    X_train, y_train, _ = datasets.load_fashion_mnist(subset="train", scale=255.0)
    X_test, y_test, _ = datasets.load_fashion_mnist(subset="test", scale=255.0)
    if quick:  # a stratified-enough slice: the files are ordered randomly
        X_train, y_train, X_test, y_test = X_train[:2000], y_train[:2000], X_test[:500], y_test[:500]
    return (X_train.astype(np.float64), y_train, X_test.astype(np.float64), y_test,
            "pixels scaled to [0, 1]; the official 60000/10000 train/test files")


def _objective_of(ours, coef, intercept, X, y, dtype):
    """softmax_nb's objective J at (coef, intercept), X taken in ``dtype``."""
    model = copy.copy(ours)
    model.coef_ = np.array(coef, dtype=np.float64)
    model.intercept_ = np.array(intercept, dtype=np.float64)
    model.dtype = dtype
    return float(model.objective(X, y))


def run_training(quick, repeats, C, sklearn_dtype, max_iters, tol, log):
    """SoftmaxClassifier(lbfgs, float32) vs LogisticRegression(lbfgs), same C, tol, max_iter.

    Time to objective: sklearn's final parameters are scored with softmax_nb's
    objective (the same formula, on the same float32 training matrix that ours
    trains on) and ours' history gives the first iteration within ``TARGET_REL`` of
    it. For sklearn, whose lbfgs path is deterministic, the fewest iterations that
    reach the same value are found by refitting with a smaller max_iter, and that
    fit is timed; so neither side is charged for iterations after the target.
    """
    from softmax_nb import SoftmaxClassifier

    if not _peers.available("sklearn"):
        return {"skipped": _peers.missing_peers()["sklearn"]}
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    n_threads = _timing.max_threads()
    results = {}
    for name, loader in (("digits", _digits), ("fashion_mnist", _fashion_mnist)):
        try:
            X_train, y_train, X_test, y_test, preprocessing = loader(quick)
        except FileNotFoundError as exc:
            results[name] = {"skipped": f"{exc}"}
            log(f"training: {name} skipped: {exc}")
            continue
        max_iter = max_iters[name]
        log(f"training: {name} {X_train.shape}, max_iter={max_iter}, tol={tol}, C={C}")
        X_ours = np.ascontiguousarray(X_train, dtype=np.float32)
        X_test_ours = np.ascontiguousarray(X_test, dtype=np.float32)
        X_sk = np.ascontiguousarray(X_train, dtype=sklearn_dtype)
        X_test_sk = np.ascontiguousarray(X_test, dtype=sklearn_dtype)

        def fit_ours(iterations):
            model = SoftmaxClassifier(C=C, solver="lbfgs", max_iter=iterations, tol=tol,
                                      dtype="float32", n_threads=n_threads)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                model.fit(X_ours, y_train)
                return model, time.perf_counter() - start

        def fit_sklearn(iterations):
            model = LogisticRegression(C=C, solver="lbfgs", max_iter=iterations, tol=tol)
            with _timing.threads(n_threads), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                model.fit(X_sk, y_train)
                return model, time.perf_counter() - start

        fit_ours(2)  # load the kernels for this dtype before any clock runs
        runs = {"softmax_nb": [], "sklearn": [], "sklearn_to_objective": [],
                "softmax_nb_to_objective": []}
        sklearn_iterations_needed = None
        for repeat in range(repeats):
            first, second = (fit_ours, fit_sklearn) if repeat % 2 == 0 else (fit_sklearn, fit_ours)
            fitted = {}
            for fit in (first, second):
                model, seconds = fit(max_iter)
                fitted[fit] = model
                runs["softmax_nb" if fit is fit_ours else "sklearn"].append(seconds)
            ours, sk = fitted[fit_ours], fitted[fit_sklearn]
            target = _objective_of(ours, sk.coef_, sk.intercept_, X_ours, y_train, "float32")
            threshold = target + TARGET_REL * abs(target)
            sk_iterations = int(np.max(sk.n_iter_))

            if sklearn_iterations_needed is None:
                def reaches(iterations):
                    model, _ = fit_sklearn(iterations)
                    return _objective_of(ours, model.coef_, model.intercept_, X_ours, y_train,
                                         "float32") <= threshold
                sklearn_iterations_needed = _fewest_iterations(sk_iterations, reaches)
            if sklearn_iterations_needed < sk_iterations:
                runs["sklearn_to_objective"].append(fit_sklearn(sklearn_iterations_needed)[1])
            else:
                runs["sklearn_to_objective"].append(runs["sklearn"][-1])

            history = ours.history_
            reached = [i for i, loss in enumerate(history["loss"]) if loss <= threshold]
            extended = False
            if not reached:
                # Ours stopped (max_iter or tol) before sklearn's value: run on, only to
                # find when it gets there.
                longer, _ = fit_ours(4 * max_iter)
                history, extended = longer.history_, True
                reached = [i for i, loss in enumerate(history["loss"]) if loss <= threshold]
            runs["softmax_nb_to_objective"].append(history["time"][reached[0]] if reached else None)

        ours_objective = float(ours.objective(X_ours, y_train))
        entry = {
            "n_train": int(X_train.shape[0]),
            "n_test": int(X_test.shape[0]),
            "n_features": int(X_train.shape[1]),
            "preprocessing": preprocessing,
            "settings": {"C": C, "tol": tol, "max_iter": max_iter, "threads": n_threads,
                         "softmax_nb_dtype": "float32", "sklearn_dtype": sklearn_dtype},
            "target_objective": target,
            "target_rel": TARGET_REL,
            "objective_float32": {"softmax_nb": ours_objective, "sklearn": target},
            "objective_float64": {
                "softmax_nb": _objective_of(ours, ours.coef_, ours.intercept_, X_train, y_train, "float64"),
                "sklearn": _objective_of(ours, sk.coef_, sk.intercept_, X_train, y_train, "float64"),
            },
            "iterations": {"softmax_nb": int(np.max(ours.n_iter_)), "sklearn": sk_iterations,
                           "sklearn_to_objective": sklearn_iterations_needed,
                           "softmax_nb_to_objective": (int(history["iteration"][reached[0]])
                                                       if reached else None)},
            "softmax_nb_extended_run": extended,
            "test_accuracy": {"softmax_nb": float(ours.score(X_test_ours, y_test)),
                              "sklearn": float(sk.score(X_test_sk, y_test))},
            "fit_s": {key: _seconds_summary(runs[key]) for key in ("softmax_nb", "sklearn")},
            "to_objective_s": {"softmax_nb": _seconds_summary(runs["softmax_nb_to_objective"]),
                               "sklearn": _seconds_summary(runs["sklearn_to_objective"])},
        }
        ours_to = entry["to_objective_s"]["softmax_nb"]["median"]
        entry["speedup_to_objective"] = (entry["to_objective_s"]["sklearn"]["median"] / ours_to
                                         if ours_to else None)
        entry["speedup_fit"] = entry["fit_s"]["sklearn"]["median"] / entry["fit_s"]["softmax_nb"]["median"]
        results[name] = entry
    return results


def _fewest_iterations(n_iterations, reaches):
    """Smallest k <= n_iterations with reaches(k), assuming reaches is monotone.

    The target is sklearn's own final value, so the answer is usually at or near
    the end: gallop down from n_iterations (n-1, n-2, n-4, ...), then bisect.
    """
    good, step = n_iterations, 1
    while True:
        k = n_iterations - step
        if k < 1:
            bad = 0
            break
        if reaches(k):
            good, step = k, 2 * step
        else:
            bad = k
            break
    while good - bad > 1:
        middle = (good + bad) // 2
        if reaches(middle):
            good = middle
        else:
            bad = middle
    return good


def _seconds_summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return {"median": None, "min": None, "all": []}
    return {"median": float(np.median(values)), "min": float(np.min(values)),
            "all": [float(v) for v in values]}


# -- elastic net -------------------------------------------------------------


def _standardized(loader):
    from sklearn.preprocessing import StandardScaler

    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _elastic_net_problems(quick):
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    problems = [("breast_cancer", load_breast_cancer), ("wine", load_wine)]
    if not quick:
        problems.append(("digits", load_digits))
    return [(name, *_standardized(loader)) for name, loader in problems]


def _objective_at(C, l1_ratio, classes, coef, intercept, X, y):
    """softmax_nb's J (data term + elastic net, / S) at someone's parameters."""
    from softmax_nb import SoftmaxClassifier

    model = SoftmaxClassifier(C=C, l1_ratio=l1_ratio)
    model.classes_, model.n_features_in_ = classes, X.shape[1]
    model.coef_ = np.asarray(coef, dtype=X.dtype)
    model.intercept_ = np.asarray(intercept, dtype=X.dtype)
    return float(model.objective(X, y))


def run_elastic_net(quick, repeats, C, fashion_C, fashion_max_iter, log):
    """Elastic net: OWL-QN (lbfgs) and FISTA (gd) against scikit-learn's saga.

    1. Small problems (binary and multiclass, l1_ratio 0.5 and 1): saga with tol 1e-10
       is the reference optimum; our objective at our optimum against the objective at
       saga's (both scored by softmax_nb's J in float64) and the zero patterns.
    2. Fashion-MNIST, l1_ratio 0.5: saga at its default tol (1e-4) sets the target
       objective; our time to it (first iteration in the history within TARGET_REL)
       against saga's fit time, beside the L2 (l1_ratio 0) lbfgs fit of the same C.
    """
    from softmax_nb import SoftmaxClassifier

    if not _peers.available("sklearn"):
        return {"skipped": _peers.missing_peers()["sklearn"]}
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    n_threads = _timing.max_threads()
    results = {"optimum": [], "settings": {"C": C, "threads": n_threads}}
    for name, X, y in _elastic_net_problems(quick):
        for l1_ratio in (0.5, 1.0):
            log(f"elastic net: {name} {X.shape}, l1_ratio={l1_ratio}, C={C}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                start = time.perf_counter()
                saga = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-10,
                                          max_iter=100000).fit(X, y)
                saga_s = time.perf_counter() - start
                saga_J = _objective_at(C, l1_ratio, saga.classes_, saga.coef_, saga.intercept_, X, y)
                row = {"problem": name, "shape": list(X.shape), "n_classes": int(len(saga.classes_)),
                       "l1_ratio": l1_ratio, "saga": {"objective": saga_J, "fit_s": saga_s,
                                                      "zero_fraction": float(np.mean(saga.coef_ == 0)),
                                                      "n_iter": int(np.max(saga.n_iter_))}}
                for solver in ("lbfgs", "gd"):
                    start = time.perf_counter()
                    ours = SoftmaxClassifier(C=C, l1_ratio=l1_ratio, solver=solver, tol=1e-9,
                                             max_iter=50000, n_threads=n_threads).fit(X, y)
                    seconds = time.perf_counter() - start
                    J = float(ours.objective(X, y))
                    row[solver] = {"objective": J, "fit_s": seconds, "n_iter": int(ours.n_iter_[0]),
                                   "rel_to_saga": (J - saga_J) / abs(saga_J),
                                   "zero_fraction": float(np.mean(ours.coef_ == 0)),
                                   "same_zeros": bool(np.array_equal(ours.coef_ == 0, saga.coef_ == 0))}
            results["optimum"].append(row)
    results["fashion_mnist"] = _elastic_net_fashion(quick, repeats, fashion_C, fashion_max_iter, n_threads, log)
    return results


def _elastic_net_fashion(quick, repeats, C, max_iter, n_threads, log):
    from softmax_nb import SoftmaxClassifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    try:
        X_train, y_train, X_test, y_test, preprocessing = _fashion_mnist(quick)
    except FileNotFoundError as exc:
        log(f"elastic net: Fashion-MNIST skipped: {exc}")
        return {"skipped": f"{exc}"}
    X32 = np.ascontiguousarray(X_train, dtype=np.float32)
    l1_ratio = 0.5
    log(f"elastic net: Fashion-MNIST {X_train.shape}, l1_ratio={l1_ratio}, C={C}: saga (tol 1e-4)")
    runs = {"saga": [], "owlqn_to_saga": [], "owlqn_fit": [], "lbfgs_l2_fit": []}
    for repeat in range(repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            saga = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-4,
                                      max_iter=1000).fit(X_train, y_train)
            runs["saga"].append(time.perf_counter() - start)
            target = _objective_at(C, l1_ratio, saga.classes_, saga.coef_, saga.intercept_, X32, y_train)
            threshold = target + TARGET_REL * abs(target)
            time.sleep(0.5)  # OpenBLAS's workers stop spinning before our clock starts
            log("elastic net: Fashion-MNIST: OWL-QN")
            start = time.perf_counter()
            ours = SoftmaxClassifier(C=C, l1_ratio=l1_ratio, tol=1e-6, max_iter=max_iter,
                                     n_threads=n_threads).fit(X32, y_train)
            runs["owlqn_fit"].append(time.perf_counter() - start)
            reached = [i for i, loss in enumerate(ours.history_["loss"]) if loss <= threshold]
            runs["owlqn_to_saga"].append(ours.history_["time"][reached[0]] if reached else None)
            log("elastic net: Fashion-MNIST: lbfgs L2")
            start = time.perf_counter()
            l2 = SoftmaxClassifier(C=C, tol=1e-6, max_iter=max_iter, n_threads=n_threads).fit(X32, y_train)
            runs["lbfgs_l2_fit"].append(time.perf_counter() - start)
    ours_to = _seconds_summary(runs["owlqn_to_saga"])["median"]
    saga_s = _seconds_summary(runs["saga"])["median"]
    X_test32 = np.ascontiguousarray(X_test, dtype=np.float32)
    return {
        "n_train": int(X_train.shape[0]), "n_features": int(X_train.shape[1]), "preprocessing": preprocessing,
        "C": C, "l1_ratio": l1_ratio, "threads": n_threads, "target_rel": TARGET_REL,
        "saga": {"objective": target, "n_iter": int(np.max(saga.n_iter_)),
                 "zero_fraction": float(np.mean(saga.coef_ == 0)),
                 "test_accuracy": float(saga.score(X_test, y_test)), "fit_s": _seconds_summary(runs["saga"])},
        "owlqn": {"objective": float(ours.objective(X32, y_train)), "n_iter": int(ours.n_iter_[0]),
                  "iterations_to_saga": (int(ours.history_["iteration"][reached[0]]) if reached else None),
                  "zero_fraction": float(np.mean(ours.coef_ == 0)),
                  "test_accuracy": float(ours.score(X_test32, y_test)),
                  "fit_s": _seconds_summary(runs["owlqn_fit"]),
                  "to_saga_objective_s": _seconds_summary(runs["owlqn_to_saga"])},
        "lbfgs_l2": {"n_iter": int(l2.n_iter_[0]), "test_accuracy": float(l2.score(X_test32, y_test)),
                     "fit_s": _seconds_summary(runs["lbfgs_l2_fit"])},
        "speedup_to_saga_objective": (saga_s / ours_to) if ours_to else None,
    }


# -- JIT ---------------------------------------------------------------------


def run_jit(quick, repeats, log):
    """Cold compile (empty NUMBA_CACHE_DIR) and warm import + first call, in subprocesses.

    Each cold run gets a new empty cache folder; the warm runs reuse the folder of
    the last cold run, so they load every kernel from disk.
    """
    dtypes = ["float32"] if quick else ["float32", "float64"]
    kernels = (["loss_gradient"] if quick else
               ["loss_gradient", "decision_function", "predict_proba", "predict_log_proba", "predict"])
    specs = [f"{kernel}:{dtype}" for dtype in dtypes for kernel in kernels]
    child = Path(__file__).resolve().parent / "_jit_child.py"

    def run_child(cache_dir):
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, str(child), str(REPO_ROOT), *specs], env=env,
                              capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"JIT child failed ({done.returncode}):\n{done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["process_wall_s"] = wall
        return result

    cold, warm = [], []
    with tempfile.TemporaryDirectory(prefix="softmax_nb_bench_cache_") as root:
        for repeat in range(max(1, repeats)):
            cache_dir = os.path.join(root, f"cold{repeat}")
            os.mkdir(cache_dir)
            log(f"jit: cold run {repeat + 1} (empty cache)")
            cold.append(run_child(cache_dir))
        for repeat in range(max(1, repeats)):
            log(f"jit: warm run {repeat + 1}")
            warm.append(run_child(cache_dir))

    def medians(runs):
        keys = ["import_numpy_s", "import_softmax_nb_s", "first_calls_total_s",
                "import_and_first_calls_s", "process_wall_s"]
        out = {key: float(np.median([run[key] for run in runs])) for key in keys}
        out["first_call_s"] = {spec: float(np.median([run["first_call_s"][spec] for run in runs]))
                               for spec in specs}
        return out

    return {"kernels": specs, "cold": medians(cold), "warm": medians(warm),
            "runs": {"cold": cold, "warm": warm}}


def run_small_data(quick, repeats, log):
    """Small inputs, where per-call costs decide: scikit-learn's LogisticRegression against
    SoftmaxClassifier (both lbfgs, default parameters).

    - predict_proba of a digits model on 1, 10 and 100 rows;
    - a fit on standardized wine (178 x 13, 3 classes);
    - the first fit in a fresh process (``_small_child.py``; softmax_nb's kernels from
      a cache that an untimed child filled first), the import before it, and for
      softmax_nb the part of that fit that is numba's one-time set-up.

    Each in-process figure is the median of ``repeats`` loops of many calls, each
    implementation in its own run (``_timing.in_turn``).
    """
    from sklearn.datasets import load_digits, load_wine
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from softmax_nb import SoftmaxClassifier

    loops = 20 if quick else 200
    repeats = max(3, repeats)
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
        models = {"softmax_nb": SoftmaxClassifier(max_iter=100).fit(X, y),
                  "sklearn": LogisticRegression(max_iter=100).fit(X, y)}

    def per_call(function):
        def loop():
            for _ in range(loops):
                function()
        return loop

    def medians_us(functions):
        times = _timing.in_turn({name: per_call(f) for name, f in functions.items()}, repeats)
        return {name: float(np.median(seconds)) / loops * 1e6 for name, seconds in times.items()}

    results = {"loops": loops, "repeats": repeats, "predict_proba_us": {}}
    for rows in (1, 10, 100):
        log(f"small data: predict_proba on {rows} rows")
        part = np.ascontiguousarray(X[:rows])
        results["predict_proba_us"][str(rows)] = medians_us(
            {name: (lambda m=model: m.predict_proba(part)) for name, model in models.items()})
    X_wine, y_wine = load_wine(return_X_y=True)
    X_wine = StandardScaler().fit_transform(X_wine)
    log("small data: wine fits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {"softmax_nb": lambda: SoftmaxClassifier().fit(X_wine, y_wine),
                "sklearn": lambda: LogisticRegression().fit(X_wine, y_wine)}
        for fit in fits.values():
            fit()
        results["wine_fit_us"] = medians_us(fits)

    child = Path(__file__).resolve().parent / "_small_child.py"
    first = {"softmax_nb": [], "sklearn": []}
    with tempfile.TemporaryDirectory(prefix="softmax_nb_bench_cache_") as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)

        def run_child(which):
            done = subprocess.run([sys.executable, str(child), str(REPO_ROOT), which], env=env,
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"small-data child failed ({done.returncode}):\n{done.stderr[-2000:]}")
            return json.loads(done.stdout.strip().splitlines()[-1])

        log("small data: first fits in fresh processes")
        run_child("softmax_nb")  # fills the cache: the later children load their kernels
        for _ in range(1 if quick else 3):
            for which in first:
                first[which].append(run_child(which))
    results["first_fit"] = {which: {key: float(np.median([run[key] for run in runs])) for key in runs[0]}
                            for which, runs in first.items()}
    results["first_fit_runs"] = first
    return results
