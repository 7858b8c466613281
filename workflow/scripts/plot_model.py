"""Rule plot_model: the figures of one trained model."""

import json

import numpy as np
from script_utils import start_logging

logger = start_logging(snakemake)

from softmax_nb import plots  # noqa: E402
from softmax_nb import files as io  # noqa: E402

dataset, model = snakemake.wildcards.dataset, snakemake.wildcards.model
model_info = io.model_info(snakemake.input.model)
data_info = io.dataset_info(snakemake.input.data)
with open(snakemake.input.metrics) as handle:
    result = json.load(handle)
test = result["test"]

# Display names: the config's class_names, else the dataset file's, else the labels.
names = snakemake.params.class_names or data_info["class_names"]
model_classes = [str(c) for c in model_info["classes"]]
if names is not None and len(names) == len(model_classes):
    model_names = list(names)
else:
    model_names = model_classes
# metrics may append labels of the test split unknown to the model
table_names = model_names + [str(c) for c in test["classes"][len(model_names):]]

solver = model_info["hyperparameters"].get("solver")
plots.plot_history(
    model_info["history"],
    snakemake.output.history,
    title=f"{dataset} / {model} ({solver})",
    x_label="epoch" if solver in ("sgd", "adam") else "iteration",
)
plots.plot_confusion_matrix(
    test["confusion_matrix"],
    snakemake.output.confusion,
    class_names=table_names,
    title=f"{dataset} / {model}: test accuracy {test['accuracy']:.4f}",
)
per_class = test["per_class"]
plots.plot_per_class_metrics(
    [np.nan if c["precision"] is None else c["precision"] for c in per_class],
    [np.nan if c["recall"] is None else c["recall"] for c in per_class],
    [np.nan if c["f1"] is None else c["f1"] for c in per_class],
    snakemake.output.per_class,
    support=[c["support"] for c in per_class],
    class_names=table_names,
    title=f"{dataset} / {model}: per-class precision, recall and F1 (test split)",
)
bins = test["calibration_bins"]
plots.plot_reliability(
    [np.nan if b["confidence"] is None else b["confidence"] for b in bins],
    [np.nan if b["accuracy"] is None else b["accuracy"] for b in bins],
    [b["count"] for b in bins],
    snakemake.output.reliability,
    ece=test["ece"],
    title=f"{dataset} / {model}: reliability (test split)",
)
sparsity = result["weights"]
weight_names = model_names
if sparsity["zero_fraction"] > 0:
    # An L1 / elastic-net model: say how many weights of each class are exactly zero.
    rows = model_names if len(sparsity["per_row"]) == len(model_names) else [model_names[-1]]
    weight_names = [f"{name} ({100 * z:.0f}% zero)" for name, z in zip(rows, sparsity["per_row"])]
    if len(rows) == 1 and len(model_names) == 2:
        weight_names = [f"log-odds of {model_names[1]} vs {model_names[0]} ({100 * sparsity['per_row'][0]:.0f}% zero)"]
plots.plot_weights(
    model_info["coef"],
    snakemake.output.weights,
    image_shape=data_info["image_shape"],
    class_names=weight_names,
    feature_names=data_info["feature_names"],
    title=f"{dataset} / {model}: learned weights per class"
    + (f", {100 * sparsity['zero_fraction']:.1f}% exactly zero" if sparsity["zero_fraction"] > 0 else ""),
)
logger.info("wrote %s", ", ".join(snakemake.output))
