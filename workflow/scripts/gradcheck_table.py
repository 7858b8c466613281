"""Rule gradcheck_table: the gradient checks of all models in one CSV and one HTML table."""

import csv
import io as text_io
import json

from script_utils import html_page, html_table, start_logging, write_text

logger = start_logging(snakemake)

COLUMNS = [
    "dataset", "model", "n_samples", "eps", "l2_reg_strength", "coef_checked", "intercept_checked", "coef_max_abs_error", "coef_max_rel_error",
    "intercept_max_abs_error", "intercept_max_rel_error", "passed",
]
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
verdict = (
    f"<p>All {len(rows)} checks passed (largest relative error below {snakemake.params.max_rel_error:g}).</p>"
    if not failed
    else f"<p><b>{len(failed)} check(s) failed:</b> {', '.join(failed)}.</p>"
)
write_text(
    snakemake.output.html,
    html_page("Finite-difference gradient check", verdict + html_table(rows, COLUMNS, highlight=lambda r: not r["passed"], highlight_class="failed")),
)
if failed:
    logger.warning("gradient check failed for %s", ", ".join(failed))
logger.info("%d checks, %d failed", len(rows), len(failed))
