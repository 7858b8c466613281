"""Rule gradcheck: finite differences against the analytic gradient at the trained parameters.

The same check as ``softmax-nb gradcheck`` (softmax_nb.model.gradcheck.gradcheck_model):
float64 whatever the training dtype (central differences in float32 carry errors of
~1e-3 from rounding alone), on a seeded sample of training rows, with the objective a
fit on exactly those rows would minimise. The relative error is taken against the
scale of the gradient's terms, so it stays meaningful at an optimum, where the
gradient itself is about zero.
"""

import json

from script_utils import Timer, start_logging, write_text

logger = start_logging(snakemake)

import numba  # noqa: E402

from softmax_nb import files as io  # noqa: E402
from softmax_nb.model.persistence import load_model  # noqa: E402
from softmax_nb.model.gradcheck import gradcheck_model  # noqa: E402

# The kernels are parallel: keep them to the job's threads, as Snakemake scheduled it.
numba.set_num_threads(snakemake.threads)

settings = snakemake.params.settings
clf = load_model(snakemake.input.model)
X, y, data_info = io.read_dataset(snakemake.input.data, "train")
labels = data_info["classes"][y]

with Timer() as timer:
    check = gradcheck_model(clf, X, labels, n_samples=settings["n_samples"], eps=settings["eps"],
                            tolerance=settings["max_rel_error"], random_state=0)
blocks = {name: check[name] for name in ("coef", "intercept") if name in check}
row = {
    "dataset": snakemake.wildcards.dataset,
    "model": snakemake.wildcards.model,
    "n_samples": check["n_samples"],
    "eps": settings["eps"],
    "l2_reg_strength": check["l2_reg_strength"],
    **{f"{name}_checked": block["n_checked"] for name, block in blocks.items()},
    **{f"{name}_max_abs_error": block["max_abs_error"] for name, block in blocks.items()},
    **{f"{name}_max_rel_error": block["max_rel_error"] for name, block in blocks.items()},
    # What the relative error is relative to: the scale of the gradient's terms (which does
    # not vanish at an optimum), and for reference the largest gradient entry (which does).
    **{f"{name}_gradient_scale": block["gradient_scale"] for name, block in blocks.items()},
    **{f"{name}_max_abs_gradient": block["max_abs_gradient"] for name, block in blocks.items()},
    "max_rel_error": max(block["max_rel_error"] for block in blocks.values()),
    "passed": bool(check["passed"]),
    "seconds": timer.seconds,
}
logger.info("gradient check: %s", row)
write_text(snakemake.output.table, json.dumps(row, indent=1) + "\n")
