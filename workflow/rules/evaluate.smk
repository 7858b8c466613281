rule evaluate:
    """Metrics of one model on the validation and test splits (accuracy, log-loss, P/R/F1, confusion, ECE)."""
    input:
        model="results/models/{dataset}/{model}.h5",
        data="results/data/{dataset}.h5",
    output:
        metrics="results/metrics/{dataset}/{model}.json",
    log:
        "logs/evaluate/{dataset}/{model}.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: model_threads
    resources:
        mem_mb=data_mem_mb,
        runtime=15,
    params:
        ece_bins=config["evaluate"]["ece_bins"],
        class_names=lambda wildcards: config["datasets"][wildcards.dataset][
            "class_names"
        ],
    script:
        "../scripts/evaluate.py"


rule summary_dataset:
    """The models of one dataset in one table, naming the best by validation loss."""
    input:
        metrics=dataset_metrics,
    output:
        csv="results/summary/{dataset}.csv",
    log:
        "logs/summary/{dataset}.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=512,
        runtime=5,
    script:
        "../scripts/summary_dataset.py"


rule summary:
    """All models of all datasets in one table (CSV and a report page)."""
    input:
        tables=expand("results/summary/{dataset}.csv", dataset=DATASETS),
    output:
        csv="results/summary.csv",
        html=report(
            "results/report/summary.html",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"dataset": "all", "model": "all", "figure": "table"},
        ),
    log:
        "logs/summary.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=512,
        runtime=5,
    script:
        "../scripts/summary_table.py"


rule gradcheck:
    """Central-difference check of the gradient at the trained parameters, on a sample of the training split."""
    input:
        model="results/models/{dataset}/{model}.h5",
        data="results/data/{dataset}.h5",
    output:
        table="results/gradcheck/{dataset}/{model}.json",
    log:
        "logs/gradcheck/{dataset}/{model}.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb,
        runtime=15,
    params:
        settings=config["gradcheck"],
    script:
        "../scripts/gradcheck.py"


rule gradcheck_table:
    """The gradient checks of all models as one table."""
    input:
        checks=run_outputs("results/gradcheck/{dataset}/{model}.json"),
    output:
        csv="results/gradcheck.csv",
        html=report(
            "results/report/gradcheck.html",
            caption="../report/gradcheck.rst",
            category="7. Gradient check",
            labels={"dataset": "all", "model": "all", "figure": "table"},
        ),
    log:
        "logs/gradcheck_table.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=512,
        runtime=5,
    params:
        max_rel_error=config["gradcheck"]["max_rel_error"],
    script:
        "../scripts/gradcheck_table.py"
