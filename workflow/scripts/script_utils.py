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
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; }
th { background: #f0f0f0; vertical-align: bottom; }
td { white-space: nowrap; }
td.text { white-space: normal; overflow-wrap: anywhere; }
td.text, th.text { text-align: left; }
tr.best td { background: #e3f4e3; font-weight: bold; }
tr.failed td { background: #f8dede; font-weight: bold; }
td.warn { color: #9a3412; font-weight: bold; }
pre { background: #f7f7f7; padding: 0.8em; border: 1px solid #ddd; overflow-x: auto; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 4px 0; }
p.note, ul.note { color: #444; font-size: 13px; max-width: 60em; }
img.figure { max-width: 100%; height: auto; }
"""


def html_table(rows, columns, *, caption=None, highlight=None, highlight_class="best", formats=None,
               warn=None):
    """One HTML ``<table>`` of ``rows`` (dicts), in ``columns`` order.

    Parameters
    ----------
    rows : list of dict
    columns : list of str or of (key, header) pairs
        The keys of ``rows`` to show; a pair gives the column a readable header.
    caption : str, optional
    highlight : callable, optional
        ``highlight(row) -> bool``; those rows get the CSS class ``highlight_class``
        ("best": bold on green, "failed": bold on red).
    formats : dict, optional
        ``key -> callable(value) -> str`` for the cells of that column (numbers are
        otherwise written with 4 significant digits).
    warn : dict, optional
        ``key -> callable(row) -> bool``; those cells are marked (bold, dark orange).
    """
    formats = formats or {}
    warn = warn or {}
    pairs = [(c, c) if isinstance(c, str) else tuple(c) for c in columns]
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    # Text columns (names) are left-aligned, header included; numbers right-aligned.
    text_columns = {key for key, _ in pairs if rows and isinstance(rows[0].get(key), str)}
    out.append("<tr>" + "".join(f'<th class="{"text" if i == 0 or key in text_columns else ""}">'
                                f'{html.escape(header)}</th>'
                                for i, (key, header) in enumerate(pairs)) + "</tr>")
    for row in rows:
        css = f' class="{highlight_class}"' if highlight is not None and highlight(row) else ""
        cells = []
        for key, _ in pairs:
            value = row.get(key)
            text = formats[key](value) if key in formats else format_cell(value)
            kind = "text" if isinstance(value, str) or value is None else ""
            if key in warn and warn[key](row):
                kind += " warn"
            cells.append(f'<td class="{kind.strip()}">{html.escape(text)}</td>')
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
