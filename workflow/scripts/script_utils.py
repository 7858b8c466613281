"""Helpers shared by the workflow scripts: logging into the rule's log, HTML tables.

Snakemake puts the folder of a running script on ``sys.path``, so the scripts
import this module by name.
"""

from __future__ import annotations

import html
import logging
import math
import sys
import time


def start_logging(snakemake):
    """Send this script's logging, warnings and uncaught errors to the rule's log file.

    Returns
    -------
    logging.Logger
    """
    log_path = snakemake.log[0]
    handle = open(log_path, "w", buffering=1)
    # Libraries that print (numba, warnings) land in the log as well.
    sys.stdout = handle
    sys.stderr = handle
    logging.basicConfig(
        stream=handle,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
        force=True,
    )
    logging.captureWarnings(True)
    logger = logging.getLogger(snakemake.rule)

    def excepthook(kind, value, traceback):
        logger.error("%s failed", snakemake.rule, exc_info=(kind, value, traceback))
        sys.__stderr__.write(f"{snakemake.rule}: {kind.__name__}: {value} (see {log_path})\n")

    sys.excepthook = excepthook
    logger.info("rule %s, wildcards %s, threads %d", snakemake.rule, dict(snakemake.wildcards), snakemake.threads)
    return logger


class Timer:
    """Context manager measuring wall time in seconds (``.seconds``)."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def format_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.4e}"
    return str(value)


STYLE = """
body { font-family: sans-serif; font-size: 14px; margin: 1em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th { background: #f0f0f0; }
td.text, th.text { text-align: left; }
tr.best td { background: #e3f4e3; font-weight: bold; }
tr.failed td { background: #f8dede; font-weight: bold; }
pre { background: #f7f7f7; padding: 0.8em; border: 1px solid #ddd; overflow-x: auto; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 4px 0; }
"""


def html_table(rows, columns, *, caption=None, highlight=None, highlight_class="best"):
    """One HTML ``<table>`` of ``rows`` (dicts), in ``columns`` order.

    Parameters
    ----------
    rows : list of dict
    columns : list of str
    caption : str, optional
    highlight : callable, optional
        ``highlight(row) -> bool``; those rows get the CSS class ``highlight_class``
        ("best": bold on green, "failed": bold on red).
    """
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<tr>" + "".join(f'<th class="{"text" if i == 0 else ""}">{html.escape(c)}</th>' for i, c in enumerate(columns)) + "</tr>")
    for row in rows:
        css = f' class="{highlight_class}"' if highlight is not None and highlight(row) else ""
        cells = []
        for column in columns:
            value = row.get(column)
            kind = "text" if isinstance(value, str) or value is None else ""
            cells.append(f'<td class="{kind}">{html.escape(format_cell(value))}</td>')
        out.append(f"<tr{css}>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def html_page(title, body):
    """A complete, self-contained HTML page (the report embeds it as is)."""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h2>{html.escape(title)}</h2>\n{body}\n</body></html>\n"
    )


def write_text(path, text):
    """Write a text file atomically (temporary file, then rename)."""
    from softmax_nb.files.atomic import atomic_write

    with atomic_write(path, "w") as handle:
        handle.write(text)
