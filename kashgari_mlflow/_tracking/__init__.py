"""What :class:`~kashgari_mlflow.MlflowCallback` delegates to, one idea per module.

* :mod:`._failures`: the failure policy (raise with ``strict``, else warn and go on);
* :mod:`._queue`: the send queue; :mod:`._retries`: how often one request is retried;
  :mod:`._rejections`: what the server refuses for good;
* :mod:`._runs`: opening, reusing and closing runs;
* :mod:`._run_guard`: closing runs whose training stopped without ending (exit,
  notebook cells, SIGTERM, Ctrl-C);
* :mod:`._steps`: which step an epoch or batch is logged at;
* :mod:`._best`: the best epoch by the monitored metric;
* :mod:`._evaluator`: when and how the validation data is scored;
* :mod:`._fit_start`, :mod:`._epoch_metrics`, :mod:`._early_stopping`: what is logged;
* :mod:`._artifacts`, :mod:`._model_logging`: what is uploaded at the end;
* :mod:`._fit_state`: one fit's collaborators and what it has seen;
* :mod:`._workers`, :mod:`._env`: who logs, and settings from the environment.

Nothing here is imported by ``import kashgari_mlflow``.
"""
