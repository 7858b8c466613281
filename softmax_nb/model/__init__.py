"""The model: one objective, its optimisers, one training loop, and the estimator.

- :mod:`~softmax_nb.model.objective`: ``SoftmaxObjective`` owns the parameter layout,
  C -> lambda, class weights -> sample weights, label smoothing and the penalty;
- :mod:`~softmax_nb.model.backends`: where J's data term is evaluated (rows in
  memory on the CPU or a CUDA device, row blocks streamed from a file);
- :mod:`~softmax_nb.model.optim`: L-BFGS, gradient descent, SGD, Adam;
- :mod:`~softmax_nb.model.training`: the training loop (history, stopping rules,
  warnings, checkpoints, SIGTERM);
- :mod:`~softmax_nb.model.estimator`: ``SoftmaxClassifier`` and ``fit_streaming``;
- :mod:`~softmax_nb.model.incremental`: ``partial_fit`` over data given piece by piece;
- :mod:`~softmax_nb.model.gradcheck`: finite differences against the analytic gradient;
- :mod:`~softmax_nb.model.runtime`: numba threads and the device.
"""
