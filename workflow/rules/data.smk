rule prepare:
    """Load one dataset entry, split it (stratified, seeded), standardize on train, write HDF5."""
    input:
        source_files,
    output:
        data="results/data/{dataset}.h5",
    log:
        "logs/prepare/{dataset}.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=prepare_mem_mb,
        runtime=15,
    params:
        dataset=lambda wildcards: config["datasets"][wildcards.dataset],
    script:
        "../scripts/prepare.py"


rule compile_kernels:
    """Compile the numba kernels the configuration needs once into the shared cache, before any training job."""
    output:
        report="results/kernels/compile.json",
    log:
        "logs/compile_kernels.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: config["threads"]
    resources:
        mem_mb=1024,
        runtime=15,
    params:
        needs=kernel_needs(),
    script:
        "../scripts/compile_kernels.py"


rule data_page:
    """The splits and class balance of one dataset and, for image data, sample images per class."""
    input:
        data="results/data/{dataset}.h5",
    output:
        html=report(
            "results/report/data/{dataset}.html",
            caption="../report/data.rst",
            category="0. Data",
            labels={
                "dataset": "{dataset}",
                "model": "all",
                "figure": "splits and classes",
            },
        ),
    log:
        "logs/data_page/{dataset}.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb,
        runtime=10,
    params:
        class_names=lambda wildcards: config["datasets"][wildcards.dataset][
            "class_names"
        ],
    script:
        "../scripts/data_page.py"
