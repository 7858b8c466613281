rule plot_model:
    """The figures of one trained model: curves, confusion matrix, mistakes, per-class metrics, ROC and PR, calibration, weights."""
    input:
        model="results/models/{dataset}/{model}.h5",
        metrics="results/metrics/{dataset}/{model}.json",
        data="results/data/{dataset}.h5",
    output:
        history=report(
            f"results/plots/{{dataset}}/{{model}}/history.{PLOT_EXT}",
            caption="../report/history.rst",
            category="2. Training curves",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "figure": "loss and accuracy",
            },
        ),
        confusion=report(
            f"results/plots/{{dataset}}/{{model}}/confusion.{PLOT_EXT}",
            caption="../report/confusion.rst",
            category="3. Confusion matrices and mistakes",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "figure": "confusion matrix",
            },
        ),
        mistakes=report(
            f"results/plots/{{dataset}}/{{model}}/mistakes.{PLOT_EXT}",
            caption="../report/mistakes.rst",
            category="3. Confusion matrices and mistakes",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "figure": "most confident mistakes",
            },
        ),
        per_class=report(
            f"results/plots/{{dataset}}/{{model}}/per_class.{PLOT_EXT}",
            caption="../report/per_class.rst",
            category="4. Per-class metrics",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "figure": "precision, recall, F1",
            },
        ),
        roc_pr=report(
            f"results/plots/{{dataset}}/{{model}}/roc_pr.{PLOT_EXT}",
            caption="../report/roc_pr.rst",
            category="4. Per-class metrics",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "figure": "ROC and precision-recall",
            },
        ),
        reliability=report(
            f"results/plots/{{dataset}}/{{model}}/reliability.{PLOT_EXT}",
            caption="../report/reliability.rst",
            category="5. Calibration",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "model": "{model}",
                "figure": "reliability diagram",
            },
        ),
        weights=report(
            f"results/plots/{{dataset}}/{{model}}/weights.{PLOT_EXT}",
            caption="../report/weights.rst",
            category="6. Learned weights",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "model": "{model}", "figure": "weights"},
        ),
    log:
        "logs/plots/{dataset}/{model}.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: max(1024, data_mem_mb(wildcards, input)),
        runtime=10,
    params:
        class_names=lambda wildcards: config["datasets"][wildcards.dataset][
            "class_names"
        ],
    script:
        "../scripts/plot_model.py"


rule plot_comparison:
    """All models of one dataset side by side: test accuracy, test log-loss, validation loss, fit time."""
    input:
        summary="results/summary/{dataset}.csv",
    output:
        figure=report(
            f"results/plots/{{dataset}}/comparison.{PLOT_EXT}",
            caption="../report/comparison.rst",
            category="1. Summary",
            labels={
                "dataset": "{dataset}",
                "model": "all",
                "figure": "model comparison",
            },
        ),
    log:
        "logs/plots/{dataset}/comparison.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=1024,
        runtime=10,
    script:
        "../scripts/plot_comparison.py"


rule plot_sweep:
    """Validation loss against C for models that differ only in C (a sweep over C)."""
    input:
        summary="results/summary/{dataset}.csv",
    output:
        figure=report(
            f"results/plots/{{dataset}}/sweep_C.{PLOT_EXT}",
            caption="../report/sweep.rst",
            category="1. Summary",
            labels={
                "dataset": "{dataset}",
                "model": "all",
                "figure": "validation loss against C",
            },
        ),
    log:
        "logs/plots/{dataset}/sweep_C.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=1024,
        runtime=10,
    params:
        groups=lambda wildcards: c_sweep_groups(wildcards.dataset),
    script:
        "../scripts/plot_sweep.py"
