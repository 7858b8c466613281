"""Rule data_page: one dataset as the models see it: its splits, the class balance of
each split and, for image data, a few training images per class (drawn inline)."""

import base64
import html
import os
import tempfile

import numpy as np
from script_utils import html_page, html_table, start_logging, write_text

logger = start_logging(snakemake)

from softmax_nb import files as io  # noqa: E402
from softmax_nb import plots  # noqa: E402

dataset = snakemake.wildcards.dataset
info = io.dataset_info(snakemake.input.data)
classes = [str(c) for c in info["classes"]]
names = snakemake.params.class_names or info["class_names"] or classes
if len(names) != len(classes):
    raise ValueError(
        f"datasets.{dataset}.class_names has {len(names)} names but the dataset has {len(classes)} classes"
    )
splits = info["splits"]
total = sum(s["n_samples"] for s in splits.values())


def share(count, of):
    return f"{count} ({100 * count / of:.1f} %)" if of else str(count)


summary_rows = [
    {"item": "source", "value": str(info["source"])},
    {"item": "features", "value": str(info["n_features"])},
    {"item": "classes", "value": str(info["n_classes"])},
    {"item": "image shape", "value": "x".join(map(str, info["image_shape"])) if info["image_shape"] else "none (not images)"},
    {"item": "stored dtype", "value": splits["train"]["dtype"]},
    {"item": "standardized", "value": "yes, with the training split's mean and standard deviation"
     if info["standardized"] else "no"},
    {"item": "split seed", "value": str(info["seed"])},
]
split_rows = [
    {"split": split, "rows": share(details["n_samples"], total)} for split, details in splits.items()
]
balance = []
for k, name in enumerate(names):
    row = {"class": name if name == classes[k] else f"{name} ({classes[k]})"}
    for split, details in splits.items():
        counts = details.get("class_counts")
        row[split] = share(int(counts[k]), details["n_samples"]) if counts is not None else "n/a"
    balance.append(row)
empty = [
    f"{row['class']} ({split})" for row in balance for split in splits if str(row[split]).startswith("0 ")
]
train_counts = np.asarray(splits["train"].get("class_counts") or [], dtype=float)
parts = [
    html_table(summary_rows, [("item", "property"), ("value", "value")], caption=f"{dataset}"),
    html_table(split_rows, [("split", "split"), ("rows", "rows (share of all)")], caption="split sizes"),
]
if train_counts.size and train_counts.min() > 0:
    parts.append(
        f'<p class="note">Class balance of the training split: the largest class has '
        f"{train_counts.max() / train_counts.min():.2f} times the rows of the smallest.</p>"
    )
if empty:
    parts.append(f'<p class="note"><b>Classes without rows:</b> {html.escape(", ".join(empty))}.</p>')
parts.append(html_table(balance, [("class", "class")] + [(s, f"{s} rows (share)") for s in splits],
                        caption="class balance per split", highlight=lambda r: any(str(r[s]).startswith("0 ") for s in splits),
                        highlight_class="failed"))

if info["image_shape"]:
    X, y, _ = io.read_dataset(snakemake.input.data, "train")
    X = np.asarray(X, dtype=np.float64)
    prep = info.get("preprocessing") or {}
    if prep.get("method") == "standardize":
        # Back to the pixel values as loaded, so the images look like the data.
        X = X * np.asarray(prep["scale"]) + np.asarray(prep["mean"])
    height, width = info["image_shape"]
    with tempfile.TemporaryDirectory() as folder:
        figure = os.path.join(folder, "samples.png")
        plots.plot_class_samples(X.reshape(-1, height, width), y, figure, class_names=list(names),
                                 title=f"{dataset}: random training images per class", seed=0)
        with open(figure, "rb") as handle:
            png = base64.b64encode(handle.read()).decode("ascii")
    parts.append("<h3>Sample images</h3>")
    parts.append(f'<img class="figure" alt="sample training images of every class of {html.escape(dataset)}" '
                 f'src="data:image/png;base64,{png}">')
write_text(snakemake.output.html, html_page(f"Data: {dataset}", "\n".join(parts)))
logger.info("%s: %s", dataset, ", ".join(f"{s} {d['n_samples']} rows" for s, d in splits.items()))
