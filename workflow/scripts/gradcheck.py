"""Rule gradcheck: finite differences against the analytic gradient at the trained parameters.

The check runs in float64 whatever the training dtype: central differences in
float32 carry errors of ~1e-3 from rounding alone and would hide real mistakes.
"""

import json

import numpy as np
from script_utils import Timer, start_logging, write_text

logger = start_logging(snakemake)

import numba  # noqa: E402

from softmax_nb import gradcheck  # noqa: E402
from softmax_nb.files import io  # noqa: E402

# The kernels are parallel: keep them to the job's threads, as Snakemake scheduled it.
numba.set_num_threads(snakemake.threads)

settings = snakemake.params.settings
model_info = io.model_info(snakemake.input.model)
X, y, data_info = io.read_dataset(snakemake.input.data, "train")
X = np.ascontiguousarray(X, dtype=np.float64)
params = model_info["hyperparameters"]

# The objective's weights as in training: class weights per sample (no sample weights in the workflow).
class_weight = params.get("class_weight")
n_classes = len(model_info["classes"])
if class_weight is None:
    sample_weight = None
    weight_sum = float(len(y))
else:
    if class_weight == "balanced":
        counts = np.bincount(y, minlength=n_classes)
        per_class = len(y) / (n_classes * np.maximum(counts, 1))
    else:
        labels = list(np.asarray(data_info["classes"]).tolist())
        per_class = np.array([float(class_weight.get(label, class_weight.get(str(label), 1.0))) for label in labels])
    sample_weight = per_class[y].astype(np.float64)
    weight_sum = float(sample_weight.sum())
l2 = 1.0 / (params["C"] * weight_sum)

intercept = model_info["intercept"] if params.get("fit_intercept", True) else None
with Timer() as timer:
    check = gradcheck(
        X, y, model_info["coef"], intercept,
        sample_weight=sample_weight,
        l2_reg_strength=l2,
        label_smoothing=params.get("label_smoothing", 0.0),
        eps=settings["eps"],
        n_samples=settings["n_samples"],
        tolerance=settings["max_rel_error"],
        random_state=0,
    )
blocks = {name: check[name] for name in ("coef", "intercept") if check.get(name) is not None}
max_rel = max(block["max_rel_error"] for block in blocks.values())
row = {
    "dataset": snakemake.wildcards.dataset,
    "model": snakemake.wildcards.model,
    "n_samples": min(settings["n_samples"] or len(y), len(y)),
    "eps": settings["eps"],
    "l2_reg_strength": l2,
    **{f"{name}_checked": block["n_checked"] for name, block in blocks.items()},
    **{f"{name}_max_abs_error": block["max_abs_error"] for name, block in blocks.items()},
    **{f"{name}_max_rel_error": block["max_rel_error"] for name, block in blocks.items()},
    "max_rel_error": max_rel,
    "passed": bool(check["passed"]),
    "seconds": timer.seconds,
}
logger.info("gradient check: %s", row)
write_text(snakemake.output.table, json.dumps(row, indent=1) + "\n")
