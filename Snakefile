"""softmax_nb workflow: prepare -> train -> evaluate -> plots -> report.

Run it with ``snakemake`` (the local profile profiles/default is found without a flag) and build the
report with ``snakemake --report results/report.html``; config/README.md documents
the configuration.
"""

import os
import sys

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# Compiled numba kernels are cached in one project-local folder, shared by all jobs
# (they inherit this environment), so only the first job pays JIT compilation.
# An explicitly exported NUMBA_CACHE_DIR wins.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.abspath(".numba_cache"))
# Jobs run the softmax-nb command of the Python environment that runs Snakemake, even
# when that environment (e.g. .venv) was not activated.
os.environ.update(
    PATH=os.pathsep.join(
        [os.path.dirname(sys.executable), os.environ.get("PATH", os.defpath)]
    )
)


wildcard_constraints:
    dataset="[A-Za-z0-9][A-Za-z0-9_.-]*",
    model="[A-Za-z0-9][A-Za-z0-9_.-]*",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/report.smk"


# Tables and text pages take well under a second: on a cluster they run beside
# Snakemake instead of waiting in the queue as jobs of their own.
localrules:
    all,
    summary_dataset,
    summary,
    gradcheck_table,
    config_page,
    methods,


rule all:
    default_target: True
    input:
        final_outputs(),
