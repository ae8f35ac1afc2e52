"""What :class:`~kashgari_mlflow.MlflowCallback` delegates to, one idea per module.

* :mod:`._failures`: the failure policy (raise with ``strict``, else warn and go on);
* :mod:`._queue`: the send queue and the retry policy of each request;
* :mod:`._runs`: opening, reusing and closing runs, and the registry of open ones;
* :mod:`._steps`: which step an epoch or batch is logged at;
* :mod:`._best`: the best epoch by the monitored metric;
* :mod:`._evaluator`: when and how the validation data is scored;
* :mod:`._fit_params`, :mod:`._epoch_metrics`, :mod:`._early_stopping`: what is logged;
* :mod:`._artifacts`, :mod:`._datasets`, :mod:`._model_logging`: what is uploaded.

Nothing here is imported by ``import kashgari_mlflow``.
"""
