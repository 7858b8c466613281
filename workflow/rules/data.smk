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
    """Compile the numba kernels once into the shared cache, before any training job."""
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
    script:
        "../scripts/compile_kernels.py"
