"""Rule plot_model: the figures of one trained model.

The weights are drawn as images only when the dataset file declares an image shape
(digits, IDX images); otherwise as the top features per class, by name.
"""

import json

import numpy as np
from script_utils import start_logging

logger = start_logging(snakemake)

import numba  # noqa: E402

from softmax_nb import metrics, plots  # noqa: E402
from softmax_nb import files as io  # noqa: E402
from softmax_nb.model.persistence import load_model  # noqa: E402

numba.set_num_threads(snakemake.threads)
dataset, model = snakemake.wildcards.dataset, snakemake.wildcards.model
clf, model_info = load_model(snakemake.input.model, return_info=True)
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
# The test split's predictions, for the ROC / precision-recall curves and the mistakes.
X_test, y_test, _ = io.read_dataset(snakemake.input.data, "test")
data_classes = np.asarray(data_info["classes"])
if not (np.array_equal(np.asarray(clf.classes_), data_classes)
        or np.array_equal(np.asarray(clf.classes_), np.arange(len(data_classes)))):
    raise ValueError(
        f"model {snakemake.input.model} has classes {list(clf.classes_)[:10]}, which match neither the labels "
        f"nor the class indices of {snakemake.input.data}"
    )
# Either way, the model's column k is the dataset's class k.
proba = clf.predict_proba(X_test)
curves = metrics.one_vs_rest_curves(y_test, proba)
plots.plot_roc_pr(
    curves,
    snakemake.output.roc_pr,
    class_names=model_names,
    title=f"{dataset} / {model}: one-vs-rest ROC and precision-recall (test split)",
)
n_wrong = int(np.sum(proba.argmax(axis=1) != y_test))
mistakes = metrics.most_confident_mistakes(y_test, proba, n=16)
images = None
if data_info["image_shape"] and mistakes:
    rows = np.array([m["row"] for m in mistakes])
    pixels = np.asarray(X_test[rows], dtype=np.float64)
    prep = data_info.get("preprocessing") or {}
    if prep.get("method") == "standardize":
        # Back to the pixel values as loaded, so the images look like the data.
        pixels = pixels * np.asarray(prep["scale"]) + np.asarray(prep["mean"])
    images = pixels.reshape(len(rows), *data_info["image_shape"])
plots.plot_mistakes(
    mistakes,
    snakemake.output.mistakes,
    images=images,
    class_names=model_names,
    n_total=n_wrong,
    title=f"{dataset} / {model}: most confidently wrong test predictions",
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
