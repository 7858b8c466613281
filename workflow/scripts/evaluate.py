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


def convergence(info):
    """(converged, note) of the fit: did it stop by its rule, or at max_iter?

    The model file's ``extra`` holds ``converged`` (and the fit's ``warnings``) when the
    training command records them; otherwise this is derived from the iterations run
    against max_iter and, for the full-batch solvers, the last gradient norm.
    """
    params = info["hyperparameters"]
    extra = info.get("extra") or {}
    n_iter, max_iter = int(info["n_iter"]), int(params.get("max_iter") or 0)
    solver, tol = params.get("solver"), params.get("tol")
    unit = "epochs" if solver in ("sgd", "adam") else "iterations"
    warnings_text = "; ".join(str(w) for w in extra.get("warnings") or [])
    if "converged" in extra:
        converged = bool(extra["converged"])
        note = warnings_text or ("" if converged else f"stopped at max_iter={max_iter} {unit} (recorded by the fit)")
        return converged, note
    if max_iter == 0:
        return False, "max_iter is 0: the starting point was kept"
    if n_iter < max_iter:
        if params.get("early_stopping"):
            return True, f"early stopping after {n_iter} {unit} (validation loss stopped improving)"
        return True, ""
    grad_norm = (info["history"].get("grad_norm") or [float("nan")])[-1]
    # max|g| <= ||g||_2: a 2-norm at most tol meets the full-batch stopping rule.
    if solver in ("lbfgs", "gd") and tol is not None and grad_norm <= tol:
        return True, ""
    detail = (f"|gradient| = {grad_norm:.3g} > tol = {tol:g}" if solver in ("lbfgs", "gd")
              else f"the epoch loss was still improving by more than tol = {tol:g}")
    return False, (f"{solver} stopped at max_iter = {max_iter} {unit} without meeting its stopping rule "
                   f"({detail}); increase max_iter or scale the data")


converged, convergence_note = convergence(model_info)
train_split = data_info["splits"]["train"]
result = {
    "dataset": snakemake.wildcards.dataset,
    "model": snakemake.wildcards.model,
    "hyperparameters": model_info["hyperparameters"],
    "n_iter": model_info["n_iter"],
    "max_iter": model_info["hyperparameters"].get("max_iter"),
    "converged": converged,
    "convergence_note": convergence_note,
    # The dtype the fit computed in: the model's setting, else the dataset's as stored.
    "dtype": model_info["hyperparameters"].get("dtype") or train_split["dtype"],
    "dtype_source": "model setting" if model_info["hyperparameters"].get("dtype") else "as stored",
    "fit_time": model_info["fit_time"],
    "device_used": model_info["device_used"],
    # MPI ranks of the training job (1: one process); the model is the same bits for any count.
    "mpi_ranks": model_info["extra"].get("mpi", {}).get("ranks", 1),
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
