"""Rule environment: the code's git commit, versions, threads, CPU and devices, as an HTML page for the report."""

import html
import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version

from script_utils import html_page, html_table, start_logging, write_text

logger = start_logging(snakemake)


def package_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib():
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


import numba  # noqa: E402

import numpy as np  # noqa: E402

from softmax_nb.kernels import cpu as kernels, cuda as gpu_kernels  # noqa: E402


def threading_layer():
    """The layer numba's parallel kernels run on; known only after one has run."""
    numba.set_num_threads(snakemake.threads)
    kernels.predict_proba(np.zeros((2, 2)), np.zeros((2, 2)))
    try:
        return numba.threading_layer()
    except ValueError:
        return numba.config.THREADING_LAYER

with open(snakemake.input.kernels) as handle:
    compile_report = json.load(handle)

cuda_usable = gpu_kernels.cuda_available()
try:
    gpu = gpu_kernels.device_name() if cuda_usable else "none usable"
except Exception as error:  # a broken driver: report it rather than fail the report
    gpu = f"unavailable ({error})"

code = snakemake.params.code
if code["commit"]:
    commit = code["commit"] + (" (with uncommitted changes)" if code["dirty"] else "")
else:
    commit = code["note"]
rows = [
    {"item": "code: git commit of the workflow", "value": commit},
    *([{"item": "code: working tree", "value": code["note"]}] if code["commit"] else []),
    {"item": "python", "value": platform.python_version()},
    *({"item": name, "value": package_version(name)} for name in (
        "softmax_nb", "numba", "numpy", "scipy", "scikit-learn", "h5py", "matplotlib", "snakemake", "numba-cuda")),
    {"item": "operating system", "value": platform.platform()},
    {"item": "CPU", "value": cpu_model()},
    {"item": "logical CPUs (this job may use)", "value": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))})"},
    {"item": "memory", "value": memory_gib()},
    {"item": "threads per training job (config threads)", "value": str(snakemake.params.threads)},
    {"item": "numba threading layer", "value": threading_layer()},
    {"item": "NUMBA_CACHE_DIR", "value": os.environ.get("NUMBA_CACHE_DIR", "(numba's default)")},
    {"item": "kernel compilation (compile_kernels job)",
     "value": f"{compile_report['seconds']:.2f} s, {compile_report['cache_misses']} compilations, "
              f"{compile_report['cache_hits']} loaded from cache"},
    {"item": "CUDA GPU", "value": gpu},
]
devices = snakemake.params.devices
device_rows = [{"model": model, "device requested": device} for model, device in devices.items()]
body = (
    html_table(rows, ["item", "value"], caption="software and hardware")
    + html_table(device_rows, ["model", "device requested"], caption="devices requested per model "
                 "(the device each model actually used is in results/summary.csv, and in the summary "
                 "table when some model did not use the CPU)")
)
write_text(snakemake.output.html, html_page("Environment", body))
for row in rows:
    logger.info("%s: %s", row["item"], row["value"])
