"""Rule plot_comparison: every model of one dataset side by side."""

import csv

from script_utils import start_logging

logger = start_logging(snakemake)

from softmax_nb import plots  # noqa: E402

dataset = snakemake.wildcards.dataset
with open(snakemake.input.summary, newline="") as handle:
    rows = [row for row in csv.DictReader(handle) if row["dataset"] == dataset]
if not rows:
    raise ValueError(f"{snakemake.input.summary} has no rows for dataset {dataset!r}")
for row in rows:
    for key in ("test_accuracy", "test_log_loss", "val_loss", "fit_time"):
        row[key] = float(row[key])
    row["best"] = row["best"] == "True"
plots.plot_model_comparison(
    rows, snakemake.output.figure, title=f"{dataset}: model comparison (green: best by validation loss)"
)
logger.info("compared %d models of %s", len(rows), dataset)
