"""Rule compile_kernels: fill the numba cache once, so training jobs load compiled code.

Fits a tiny model with every solver in float32 and float64 (the two dtypes the
kernels are specialised for) and calls the kernels directly as the command line
does, which compiles, or loads from NUMBA_CACHE_DIR, every kernel specialisation
the training, evaluation and gradient-check jobs use. Several jobs compiling into one cache at the same
time could race; running this job first, alone, avoids that.
"""

import json
import os
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from script_utils import Timer, start_logging, write_text

logger = start_logging(snakemake)

with Timer() as import_timer:
    import numba

    from softmax_nb import SoftmaxClassifier
    from softmax_nb.kernels import cpu as kernels

numba.set_num_threads(snakemake.threads)
cache_dir = os.environ.get("NUMBA_CACHE_DIR", "")
logger.info("NUMBA_CACHE_DIR=%s, numba %s, threads %d", cache_dir or "(numba's default)", numba.__version__, snakemake.threads)

# Two iterations never converge; that is the point here, not news for the log.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
rng = np.random.default_rng(0)
X64 = rng.standard_normal((64, 6))
y = np.arange(64) % 3
timings = {}
with Timer() as total:
    for dtype in ("float64", "float32"):
        X = X64.astype(dtype)
        for solver in ("lbfgs", "gd", "sgd", "adam"):
            with Timer() as timer:
                SoftmaxClassifier(solver=solver, max_iter=2, batch_size=16, n_threads=snakemake.threads,
                                  random_state=0).fit(X, y, eval_set=(X, y))
            timings[f"{solver}/{dtype}"] = round(timer.seconds, 4)
            logger.info("%s %s: %.3f s", solver, dtype, timer.seconds)
        # The kernels called directly, with default arguments, as the command line's
        # warm-up and the gradient check call them (other argument types, other
        # compiled specialisations), with and without an intercept.
        with Timer() as timer:
            coef = np.zeros((3, X.shape[1]))
            for intercept in (np.zeros(3), None):
                kernels.loss_gradient(X, y, coef, intercept)
                kernels.predict_proba(X, coef, intercept)
                kernels.predict_log_proba(X, coef, intercept)
        timings[f"direct/{dtype}"] = round(timer.seconds, 4)


def dispatcher_stats():
    """Cache hits and misses of every numba dispatcher in softmax_nb's modules."""
    import sys

    hits = misses = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("softmax_nb") or module is None:
            continue
        for value in vars(module).values():
            stats = getattr(value, "stats", None)
            if isinstance(value, numba.core.dispatcher.Dispatcher) and stats is not None:
                hits += sum(stats.cache_hits.values())
                misses += sum(stats.cache_misses.values())
    return hits, misses


hits, misses = dispatcher_stats()
state = "compiled" if misses else "loaded from the cache"
logger.info(
    "kernels %s in %.2f s (%d cache misses = compilations, %d cache hits); import took %.2f s",
    state, total.seconds, misses, hits, import_timer.seconds,
)
write_text(
    snakemake.output.report,
    json.dumps(
        {
            "seconds": round(total.seconds, 3),
            "import_seconds": round(import_timer.seconds, 3),
            "cache_misses": misses,
            "cache_hits": hits,
            "numba_cache_dir": cache_dir,
            "threads": snakemake.threads,
            "per_solver_seconds": timings,
        },
        indent=2,
    )
    + "\n",
)
