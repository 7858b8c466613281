"""Rule plot_sweep: validation loss against C, one line per group of models differing only in C."""

import csv

from script_utils import start_logging

logger = start_logging(snakemake)

from softmax_nb import plots  # noqa: E402

dataset = snakemake.wildcards.dataset
with open(snakemake.input.summary, newline="") as handle:
    rows = {row["model"]: row for row in csv.DictReader(handle)}
series = {}
for label, models in snakemake.params.groups.items():
    series[label] = (
        [float(rows[m]["C"]) for m in models],
        [float(rows[m]["val_loss"]) for m in models],
    )
    logger.info("%s: %s", label, list(zip(*series[label])))
plots.plot_parameter_curves(
    series,
    snakemake.output.figure,
    x_label="C",
    y_label="validation log-loss",
    title=f"{dataset}: validation loss against C (smaller C = stronger L2)",
)
