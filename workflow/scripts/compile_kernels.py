"""Rule compile_kernels: fill the numba cache once, so training jobs load compiled code.

Compiles only what the configuration's runs use (``kernel_needs()`` in
workflow/rules/common.smk): for each distinct training dtype, layout (dense or CSR),
solver, elastic net or not, and intercept or not, a tiny fit with those settings
(and a validation set); for each dtype and layout the runs evaluate in, the kernels
called directly as the command line's warm-up, the evaluation and the gradient check
call them (other argument types, other compiled specialisations). Each fit or call
compiles, or loads from NUMBA_CACHE_DIR, its kernel specialisations. Several jobs
compiling into one cache at the same time could race; running this job first, alone,
avoids that.
"""

import json
import os
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from script_utils import Timer, start_logging, write_text

logger = start_logging(snakemake)

with Timer() as import_timer:
    import numba

    from softmax_nb import SoftmaxClassifier, kernels

numba.set_num_threads(snakemake.threads)
cache_dir = os.environ.get("NUMBA_CACHE_DIR", "")
logger.info("NUMBA_CACHE_DIR=%s, numba %s, threads %d", cache_dir or "(numba's default)", numba.__version__, snakemake.threads)
needs = snakemake.params.needs

# Two iterations never converge; that is the point here, not news for the log.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
rng = np.random.default_rng(0)
X64 = rng.standard_normal((64, 6)) * (rng.random((64, 6)) < 0.5)
y = np.arange(64) % 3


def tiny(dtype, layout):
    X = X64.astype(dtype)
    return sp.csr_matrix(X) if layout == "csr" else X


timings = {}
with Timer() as total:
    for need in needs["train"]:
        X = tiny(need["dtype"], need["layout"])
        name = "/".join([need["solver"] + ("+l1" if need["elastic_net"] else ""), need["dtype"], need["layout"]]
                        + ([] if need["fit_intercept"] else ["no intercept"]))
        with Timer() as timer:
            SoftmaxClassifier(solver=need["solver"], l1_ratio=0.5 if need["elastic_net"] else 0.0,
                              fit_intercept=need["fit_intercept"], max_iter=2, batch_size=16,
                              n_threads=snakemake.threads, random_state=0).fit(X, y, eval_set=(X, y))
        timings[name] = round(timer.seconds, 4)
        logger.info("%s: %.3f s", name, timer.seconds)
    for need in needs["evaluate"]:
        X = tiny(need["dtype"], need["layout"])
        with Timer() as timer:
            coef = np.zeros((3, X.shape[1]))
            for intercept in (np.zeros(3), None):
                kernels.loss_gradient(X, y, coef, intercept)
                kernels.predict_proba(X, coef, intercept)
                kernels.predict_log_proba(X, coef, intercept)
        timings[f"direct/{need['dtype']}/{need['layout']}"] = round(timer.seconds, 4)


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
            "needs": needs,
            "per_need_seconds": timings,
        },
        indent=2,
    )
    + "\n",
)
