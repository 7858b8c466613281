"""Rule methods: render workflow/report/methods.rst to a self-contained HTML page.

docutils (a Snakemake dependency) writes the math as MathML, which browsers show
without any script or network access, so the report stays self-contained.
"""

from docutils.core import publish_string
from script_utils import start_logging, write_text

logger = start_logging(snakemake)

with open(snakemake.input.rst, encoding="utf-8") as handle:
    source = handle.read()
page = publish_string(
    source,
    source_path=snakemake.input.rst,
    writer="html5",
    settings_overrides={
        "math_output": "MathML",
        "embed_stylesheet": True,
        "report_level": 2,
        "halt_level": 2,  # a malformed methods page fails the job instead of rendering garbage
        "output_encoding": "unicode",
    },
)
write_text(snakemake.output.html, page)
logger.info("rendered %s (%d characters)", snakemake.input.rst, len(page))
