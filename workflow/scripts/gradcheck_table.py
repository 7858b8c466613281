"""Rule gradcheck_table: the gradient checks of all models in one CSV and one HTML table."""

import csv
import io as text_io
import json

from script_utils import html_page, html_table, start_logging, write_text

logger = start_logging(snakemake)

# The CSV keeps every number; the report's table shows what decides the verdict.
COLUMNS = [
    "dataset", "model", "n_samples", "eps", "l2_reg_strength", "coef_checked", "intercept_checked",
    "coef_max_abs_error", "coef_gradient_scale", "coef_max_rel_error", "coef_max_abs_gradient",
    "intercept_max_abs_error", "intercept_gradient_scale", "intercept_max_rel_error", "intercept_max_abs_gradient",
    "passed",
]
SHOWN = [
    ("dataset", "dataset"), ("model", "model"), ("n_samples", "rows"),
    ("coef_max_abs_error", "weights: max |error|"), ("coef_gradient_scale", "weights: term scale"),
    ("coef_max_rel_error", "weights: relative error"),
    ("intercept_max_abs_error", "biases: max |error|"), ("intercept_gradient_scale", "biases: term scale"),
    ("intercept_max_rel_error", "biases: relative error"), ("passed", "passed"),
]


def scientific(value):
    return "" if value is None else f"{value:.2e}"


FORMATS = {key: scientific for key, _ in SHOWN if key.startswith(("coef_", "intercept_"))}
rows = []
for path in snakemake.input.checks:
    with open(path) as handle:
        rows.append(json.load(handle))

buffer = text_io.StringIO()
writer = csv.DictWriter(buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
writer.writeheader()
for row in rows:
    writer.writerow({key: row.get(key, "") for key in COLUMNS})
write_text(snakemake.output.csv, buffer.getvalue())

failed = [f"{r['dataset']}/{r['model']}" for r in rows if not r["passed"]]
threshold = snakemake.params.max_rel_error
verdict = (
    f"<p>All {len(rows)} checks passed (every relative error below {threshold:g}).</p>"
    if not failed
    else f"<p><b>{len(failed)} check(s) failed</b> (relative error above {threshold:g}): {', '.join(failed)}.</p>"
)
explanation = (
    '<p class="note">The relative error is the largest |finite difference - analytic gradient| of a block '
    "divided by the block's <i>term scale</i>: the largest sum, over the checked rows, of the absolute "
    "per-row contributions to a gradient entry (plus the absolute L2 term). Unlike the gradient itself, "
    "which is about zero at an optimum, this scale does not vanish there, so a converged model is judged "
    "by its real accuracy. results/gradcheck.csv also holds the largest gradient entries.</p>"
)
write_text(
    snakemake.output.html,
    html_page("Finite-difference gradient check", verdict + explanation + html_table(
        rows, SHOWN, highlight=lambda r: not r["passed"], highlight_class="failed", formats=FORMATS)),
)
if failed:
    logger.warning("gradient check failed for %s", ", ".join(failed))
logger.info("%d checks, %d failed", len(rows), len(failed))
