"""Checks that let a model folder from someone else be loaded without running its code.

Every name in a model's files is resolved here against an allowlist, every
Keras config is walked before Keras sees it, and every HDF5 weights file is
inspected (links, external storage, dtypes, declared sizes) before a byte of
it is read. Both loaders call these: :func:`kashgari_mlflow.load_model` and
the pyfunc's ``_load_pyfunc``. Each check raises
:class:`kashgari_mlflow._loading.ModelFilesError` naming the reason.
"""
