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
    wildcard_constraints:
        model=mpi_models_pattern(False),
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
        # Numba threads of the (each) training process, and no launcher: see train_mpi.
        rank_threads=model_threads,
        launcher="",
    shell:
        "{params.launcher}softmax-nb train {input.data:q} --output {output.model:q} --history {output.history:q}"
        " --params {params.hyperparameters} --threads {params.rank_threads}"
        " --config-hash {params.config_hash}"
        " --checkpoint {params.checkpoint:q} --resume > {log:q} 2>&1"


use rule train as train_mpi with:
    wildcard_constraints:
        model=mpi_models_pattern(True),
    # Locally the job holds tasks x threads cores; on SLURM each task gets the threads.
    threads: lambda wildcards: model_tasks(wildcards) * model_threads(wildcards)
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime,
        gpu=0,
        # The SLURM executor submits a job with an `mpi` resource as one allocation of
        # `tasks` tasks (each with the job's threads as its CPUs) and leaves the launch to
        # the command; profiles/slurm sets mpi to "srun".
        mpi="mpiexec",
        tasks=model_tasks,
        cpus_per_task=model_threads,
    params:
        hyperparameters=lambda wildcards: train_params_json(wildcards.model),
        config_hash=lambda wildcards: config_hash(wildcards.dataset, wildcards.model),
        checkpoint=lambda wildcards: (
            f"results/checkpoints/{wildcards.dataset}/{wildcards.model}"
            f"-{config_hash(wildcards.dataset, wildcards.model)}.ckpt"
        ),
        rank_threads=model_threads,
        launcher=lambda wildcards, resources: f"{resources.mpi} -n {resources.tasks} ",
