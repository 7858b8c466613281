"""Rule evaluate: metrics of one trained model on the validation and test splits."""

import json

import numpy as np
from script_utils import Timer, start_logging, write_text

logger = start_logging(snakemake)

import numba  # noqa: E402

from softmax_nb import metrics  # noqa: E402
from softmax_nb.model.persistence import load_model  # noqa: E402
from softmax_nb import files as io  # noqa: E402

numba.set_num_threads(snakemake.threads)
clf, model_info = load_model(snakemake.input.model, return_info=True)
data_info = io.dataset_info(snakemake.input.data)
classes = np.asarray(data_info["classes"])


def labels_of(y_index):
    """The labels the model was fitted on: the dataset's labels, or its class indices."""
    if len(clf.classes_) == len(classes) and np.array_equal(np.asarray(clf.classes_), classes):
        return classes[y_index]
    if np.array_equal(np.asarray(clf.classes_), np.arange(len(classes))):
        return y_index
    raise ValueError(
        f"model {snakemake.input.model} has classes {list(clf.classes_)[:10]}, which match neither the labels "
        f"nor the class indices of {snakemake.input.data}"
    )


result = {
    "dataset": snakemake.wildcards.dataset,
    "model": snakemake.wildcards.model,
    "hyperparameters": model_info["hyperparameters"],
    "n_iter": model_info["n_iter"],
    "fit_time": model_info["fit_time"],
    "device_used": model_info["device_used"],
    "n_features": data_info["n_features"],
    "class_names": snakemake.params.class_names or data_info["class_names"],
    "final_train_objective": (model_info["history"].get("loss") or [None])[-1],
    "weights": metrics.weight_sparsity(model_info["coef"]),
}
for split in ("val", "test"):
    X, y_index, _ = io.read_dataset(snakemake.input.data, split)
    with Timer() as timer:
        proba = clf.predict_proba(X)
        log_proba = clf.predict_log_proba(X)
    result[split] = metrics.evaluate(
        labels_of(y_index), proba, clf.classes_, log_proba=log_proba, n_bins=snakemake.params.ece_bins
    )
    logger.info(
        "%s: %d rows, accuracy %.4f, log-loss %.4f, ECE %.4f (predicted in %.3f s)",
        split, len(y_index), result[split]["accuracy"], result[split]["log_loss"], result[split]["ece"],
        timer.seconds,
    )
write_text(snakemake.output.metrics, json.dumps(result, indent=1, allow_nan=False) + "\n")
