"""Rule prepare: one dataset entry of the config -> results/data/{dataset}.h5.

A thin call to softmax_nb.data.prepare_from_config, the function that
``softmax-nb prepare --config`` and Python call too: one entry, one dataset.
"""

from script_utils import Timer, start_logging

logger = start_logging(snakemake)

from softmax_nb.data import prepare_from_config  # noqa: E402

name = snakemake.wildcards.dataset
entry = dict(snakemake.params.dataset)
logger.info("datasets.%s: %s", name, entry)
with Timer() as timer:
    info = prepare_from_config(entry, snakemake.output.data, name=name)
for split, details in info["splits"].items():
    logger.info("%s: %d rows, %s", split, details["n_samples"], details["dtype"])
logger.info(
    "wrote %s: %d features, %d classes, image shape %s, in %.2f s",
    snakemake.output.data, info["n_features"], info["n_classes"], info["image_shape"], timer.seconds,
)
