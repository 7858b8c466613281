"""Rule summary_dataset: one row per model of a dataset, the best one by validation loss marked."""

import csv
import io as text_io
import json

from script_utils import start_logging, write_text

logger = start_logging(snakemake)

# The column order of results/summary.csv (summary_table.py reads this list).
# The CSV keeps every column (machine names); the report's table shows the important ones.
COLUMNS = [
    "dataset", "model", "best", "solver", "C", "l1_ratio", "learning_rate", "batch_size", "max_iter", "dtype",
    "dtype_source", "device_used", "mpi_ranks", "n_iter", "converged", "convergence_note", "fit_time", "train_objective",
    "zero_weights", "val_loss", "val_accuracy", "test_accuracy", "test_log_loss", "test_ece", "test_macro_f1",
]

rows = []
for path in snakemake.input.metrics:
    with open(path) as handle:
        result = json.load(handle)
    params = result["hyperparameters"]
    rows.append({
        "dataset": result["dataset"],
        "model": result["model"],
        "solver": params.get("solver"),
        "C": params.get("C"),
        "l1_ratio": params.get("l1_ratio", 0.0),
        "learning_rate": params.get("learning_rate"),
        "batch_size": params.get("batch_size") if params.get("solver") in ("sgd", "adam") else None,
        "max_iter": params.get("max_iter"),
        # The dtype actually used: the model's setting, else the dataset's as stored.
        "dtype": result["dtype"],
        "dtype_source": result["dtype_source"],
        "device_used": result["device_used"],
        "mpi_ranks": result.get("mpi_ranks", 1),
        "n_iter": result["n_iter"],
        "converged": result["converged"],
        "convergence_note": result["convergence_note"],
        "fit_time": result["fit_time"],
        "train_objective": result["final_train_objective"],
        "zero_weights": result["weights"]["zero_fraction"],
        "val_loss": result["val"]["log_loss"],
        "val_accuracy": result["val"]["accuracy"],
        "test_accuracy": result["test"]["accuracy"],
        "test_log_loss": result["test"]["log_loss"],
        "test_ece": result["test"]["ece"],
        "test_macro_f1": result["test"]["macro_avg"]["f1"],
    })

# Model selection uses the validation split only; the test split stays untouched by it.
best = {}
for row in rows:
    current = best.get(row["dataset"])
    if current is None or row["val_loss"] < current["val_loss"]:
        best[row["dataset"]] = row
for row in rows:
    row["best"] = best[row["dataset"]] is row
for dataset, row in sorted(best.items()):
    logger.info("best model on %s by validation loss: %s (val loss %.4f, test accuracy %.4f)",
                dataset, row["model"], row["val_loss"], row["test_accuracy"])

buffer = text_io.StringIO()
writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
writer.writeheader()
for row in rows:
    writer.writerow({key: ("" if row[key] is None else row[key]) for key in COLUMNS})
write_text(snakemake.output.csv, buffer.getvalue())
