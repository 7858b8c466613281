rule environment:
    """Versions, threads, CPU and devices of the machine that ran the workflow."""
    input:
        kernels="results/kernels/compile.json",
    output:
        html=report(
            "results/report/environment.html",
            caption="../report/environment.rst",
            category="9. Configuration and environment",
            labels={"dataset": "all", "model": "all", "figure": "environment"},
        ),
    log:
        "logs/environment.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=512,
        runtime=5,
    params:
        threads=config["threads"],
        # Part of the job's parameters: the page is rebuilt when the commit changes.
        code=code_version(),
        devices=lambda wildcards: {
            m: config["models"][m]["device"] for m in sorted({m for _, m in RUNS})
        },
    script:
        "../scripts/environment.py"


rule config_page:
    """The configuration this run used, with every default filled in."""
    output:
        html=report(
            "results/report/config.html",
            caption="../report/config.rst",
            category="9. Configuration and environment",
            labels={"dataset": "all", "model": "all", "figure": "configuration"},
        ),
    log:
        "logs/config_page.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=512,
        runtime=5,
    params:
        config=config,
    script:
        "../scripts/config_page.py"


rule methods:
    """The methods page (model, objective, gradient) rendered to HTML for the report."""
    input:
        rst="workflow/report/methods.rst",
    output:
        html=report(
            "results/report/methods.html",
            caption="../report/methods_caption.rst",
            category="8. Methods",
            labels={"dataset": "all", "model": "all", "figure": "methods"},
        ),
    log:
        "logs/methods.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=512,
        runtime=5,
    script:
        "../scripts/methods.py"
