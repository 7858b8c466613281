"""Rule plot_sweep: validation loss (and, with L1, the fraction of zero weights) against C, one
line per group of models differing only in C."""

import csv

from script_utils import start_logging

logger = start_logging(snakemake)

from softmax_nb import plots  # noqa: E402

dataset = snakemake.wildcards.dataset
with open(snakemake.input.summary, newline="") as handle:
    rows = {row["model"]: row for row in csv.DictReader(handle)}
series, zeros = {}, {}
for label, models in snakemake.params.groups.items():
    Cs = [float(rows[m]["C"]) for m in models]
    series[label] = (Cs, [float(rows[m]["val_loss"]) for m in models])
    zeros[label] = (Cs, [float(rows[m]["zero_weights"]) for m in models])
    logger.info("%s: %s", label, list(zip(*series[label])))
sparse = any(float(rows[m]["l1_ratio"] or 0) > 0 for models in snakemake.params.groups.values() for m in models)
plots.plot_parameter_curves(
    series,
    snakemake.output.figure,
    x_label="C",
    y_label="validation log-loss",
    title=f"{dataset}: validation loss against C (smaller C = stronger penalty)",
    second=zeros if sparse else None,
    second_label="fraction of weights exactly zero",
)
