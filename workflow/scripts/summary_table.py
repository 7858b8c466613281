"""Rule summary: the per-dataset summaries as one CSV and one HTML page for the report."""

import csv
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


parts = []
for dataset in dict.fromkeys(row["dataset"] for row in rows):
    table = [typed(row) for row in rows if row["dataset"] == dataset]
    best = next(row for row in table if row["best"])
    parts.append(
        f"<p><b>{dataset}</b>: the best model by validation loss is <b>{best['model']}</b> "
        f"(validation loss {best['val_loss']:.4f}, test accuracy {best['test_accuracy']:.4f}).</p>"
    )
    parts.append(html_table(table, columns[1:], caption=dataset, highlight=lambda r: r["best"]))
    logger.info("%s: best model %s", dataset, best["model"])
write_text(snakemake.output.html, html_page("Summary of all models", "\n".join(parts)))
