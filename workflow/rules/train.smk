rule train:
    """Fit one model entry on the training split of one dataset (validation curves recorded)."""
    input:
        data="results/data/{dataset}.h5",
        kernels="results/kernels/compile.json",
    output:
        model="results/models/{dataset}/{model}.h5",
        history="results/models/{dataset}/{model}.history.csv",
    log:
        "logs/train/{dataset}/{model}.log",
    conda:
        "../envs/softmax_nb.yaml"
    threads: model_threads
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        gpu=lambda wildcards: model_uses_gpu(wildcards.model),
    params:
        hyperparameters=lambda wildcards: train_params_json(wildcards.model),
        config_hash=lambda wildcards: config_hash(wildcards.dataset, wildcards.model),
        # Named by the config hash: a killed job resumes on rerun, while a changed
        # model entry starts afresh instead of meeting a foreign checkpoint.
        checkpoint=lambda wildcards: (
            f"results/checkpoints/{wildcards.dataset}/{wildcards.model}"
            f"-{config_hash(wildcards.dataset, wildcards.model)}.ckpt"
        ),
    shell:
        "softmax-nb train {input.data:q} --output {output.model:q} --history {output.history:q}"
        " --params {params.hyperparameters} --threads {threads}"
        " --config-hash {params.config_hash}"
        " --checkpoint {params.checkpoint:q} --resume > {log:q} 2>&1"
