"""Rule prepare: one dataset entry of the config -> results/data/{dataset}.h5."""

from script_utils import Timer, start_logging

logger = start_logging(snakemake)

from softmax_nb.data.datasets import prepare  # noqa: E402

entry = dict(snakemake.params.dataset)
source = entry["source"]

# The config's source options, renamed to the loader's parameters (softmax_nb.datasets.SOURCES).
if source == "digits":
    loader_args = {}
elif source == "synthetic":
    loader_args = {key: entry[key] for key in ("n_samples", "n_features", "n_classes", "class_sep")}
    loader_args["seed"] = entry["seed"]
elif source == "csv":
    loader_args = {
        "path": entry["path"],
        "label_column": entry["label_column"],
        "header": entry["header"],
        "delimiter": entry["delimiter"],
        "skip_columns": entry["skip_columns"],
    }
elif source == "npz":
    loader_args = {"path": entry["path"], "x_key": entry["x_key"], "y_key": entry["y_key"]}
elif source == "hdf5":
    loader_args = {"path": entry["path"], "x_dataset": entry["x_key"], "y_dataset": entry["y_key"]}
elif source == "idx":
    loader_args = {"images": entry["path"], "labels": entry["labels_path"], "scale": entry["scale"]}
else:  # the schema's enum makes this unreachable
    raise ValueError(f"datasets.{snakemake.wildcards.dataset}.source: unknown source {source!r}")

logger.info("source %s with %s", source, loader_args)
with Timer() as timer:
    info = prepare(
        {"name": source, **loader_args},
        snakemake.output.data,
        val_fraction=entry["val_fraction"],
        test_fraction=entry["test_fraction"],
        seed=entry["seed"],
        standardize=entry["standardize"],
        dtype=entry["dtype"],
        stratify=entry["stratify"],
        max_samples=entry["max_samples"],
        config={"dataset": snakemake.wildcards.dataset, **entry},
    )
for split, details in info["splits"].items():
    logger.info("%s: %d rows, %s", split, details["n_samples"], details["dtype"])
logger.info(
    "wrote %s: %d features, %d classes, image shape %s, in %.2f s",
    snakemake.output.data, info["n_features"], info["n_classes"], info["image_shape"], timer.seconds,
)
