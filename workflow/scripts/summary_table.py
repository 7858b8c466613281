"""Rule summary: the per-dataset summaries as one CSV and one HTML page for the report."""

import csv
import html
import io as text_io

from script_utils import html_page, html_table, start_logging, write_text

logger = start_logging(snakemake)

rows, columns = [], None
for path in snakemake.input.tables:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = columns or reader.fieldnames
        rows.extend(reader)

buffer = text_io.StringIO()
writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
writer.writeheader()
writer.writerows(rows)
write_text(snakemake.output.csv, buffer.getvalue())


def typed(row):
    """Numbers as numbers, so the HTML table rounds them."""
    out = {}
    for key, value in row.items():
        if value == "":
            out[key] = None
        elif value in ("True", "False"):
            out[key] = value == "True"
        else:
            try:
                out[key] = int(value)
            except ValueError:
                try:
                    out[key] = float(value)
                except ValueError:
                    out[key] = value
    return out


def fixed(digits):
    return lambda value: "" if value is None else f"{value:.{digits}f}"


def percent(value):
    return "" if value is None else f"{100 * value:.1f} %"


def seconds(value):
    # Millisecond resolution is all a fit time needs.
    return "" if value is None else (f"{value:.3f}" if value < 100 else f"{value:.0f}")


# The report's table: the important columns first, readable headers, rounded numbers.
# Everything else (learning rate, batch size, train objective, validation accuracy,
# test log-loss, ...) stays in results/summary.csv.
def display_columns(table):
    columns = [
        ("model", "model"),
        ("test_accuracy", "test accuracy"),
        ("test_macro_f1", "macro-F1"),
        ("test_ece", "ECE"),
        ("val_loss", "val. loss"),
        ("solver", "solver"),
        ("C", "C"),
    ]
    if any((row["l1_ratio"] or 0) > 0 for row in table):
        columns += [("l1_ratio", "L1 ratio"), ("zero_weights", "zero weights")]
    columns += [("dtype_shown", "dtype"), ("iterations", "iter. / max"), ("converged_shown", "converged"),
                ("fit_time", "fit time [s]")]
    if any(row["device_used"] != "cpu" for row in table):
        columns.append(("device_used", "device"))
    if any(int(row.get("mpi_ranks") or 1) > 1 for row in table):
        columns.append(("mpi_ranks", "MPI ranks"))
    return columns


FORMATS = {
    "test_accuracy": fixed(4), "test_macro_f1": fixed(4), "test_ece": fixed(4), "val_loss": fixed(4),
    "C": lambda value: "" if value is None else f"{value:g}", "l1_ratio": lambda value: f"{value or 0:g}",
    "zero_weights": percent, "fit_time": seconds,
}

parts = [
    '<p class="note">One row per model; the <b>best</b> model of each dataset (lowest validation log-loss, '
    "the test split plays no part in the choice) is marked and drawn in green. Test accuracy, macro-F1 "
    "and ECE (expected calibration error) are on the test split. Every column, with machine names, is in "
    "results/summary.csv.</p>"
]
for dataset in dict.fromkeys(row["dataset"] for row in rows):
    table = [typed(row) for row in rows if row["dataset"] == dataset]
    for row in table:
        row["model_name"] = row["model"]
        if row["best"]:
            row["model"] = f"{row['model']} (best)"
        # Non-breaking spaces: short cells that must not wrap inside the narrow table.
        nbsp = "\u00a0"
        row["dtype_shown"] = (f"{row['dtype']}{nbsp}({row['dtype_source'].replace(' ', nbsp)})"
                              if row.get("dtype_source") else row["dtype"])
        row["iterations"] = f"{row['n_iter']}{nbsp}/{nbsp}{row['max_iter']}"
        row["converged_shown"] = "yes" if row["converged"] else f"no{nbsp}*"
    best = next(row for row in table if row["best"])
    parts.append(
        f"<p><b>{html.escape(str(dataset))}</b>: the best model by validation loss is "
        f"<b>{html.escape(best['model_name'])}</b> (validation loss {best['val_loss']:.4f}, "
        f"test accuracy {best['test_accuracy']:.4f}).</p>"
    )
    parts.append(html_table(table, display_columns(table), caption=str(dataset), highlight=lambda r: r["best"],
                            formats=FORMATS, warn={"converged_shown": lambda r: not r["converged"]}))
    stopped = [row for row in table if not row["converged"]]
    if stopped:
        parts.append('<ul class="note">' + "".join(
            f"<li>* <b>{html.escape(row['model_name'])}</b>: "
            f"{html.escape(row.get('convergence_note') or 'stopped before meeting its stopping rule')}</li>"
            for row in stopped) + "</ul>")
        logger.warning("%s: %d model(s) stopped without converging: %s", dataset, len(stopped),
                       ", ".join(row["model_name"] for row in stopped))
    logger.info("%s: best model %s", dataset, best["model_name"])
write_text(snakemake.output.html, html_page("Summary of all models", "\n".join(parts)))
