"""Inspect an HDF5 weights file before any of its data is read.

h5py follows what the file says: a dataset can keep its bytes in another
file (external storage), be assembled from other files (a virtual dataset),
or a link can point into another file. Opening such a weights file reads any
local file into the model. Everything here reads metadata only (links,
dtypes, shapes, storage offsets), never a dataset's values.
"""

from __future__ import annotations

import math
import os
from typing import Any, NoReturn

from kashgari_mlflow._loading import ModelFilesError
from kashgari_mlflow._safety.limits import MAX_WEIGHT_BYTES

#: Dtype kinds a Keras weight can have: bool, signed, unsigned, float.
_NUMERIC_KINDS = frozenset("biuf")
#: HDF5 filters built into HDF5 and h5py: deflate, shuffle, fletcher32, LZF. Any
#: other id makes HDF5 search HDF5_PLUGIN_PATH for a library to load.
_BUILT_IN_FILTERS = frozenset({1, 2, 3, 32000})


def check_weights_file(path: str) -> None:
    """Refuse a weights file that reaches outside itself, holds non-numbers or is oversized.

    Also refuses a file whose datasets end past its last byte (truncated), so a
    damaged file is named without reading its data.

    Raises:
        ModelFilesError: Naming the file, the object and the reason.
    """
    import h5py

    try:
        handle = h5py.File(path, "r")
    except (OSError, ValueError) as err:
        raise ModelFilesError(
            f"{path} cannot be read ({err}); the file is truncated, corrupted or belongs to "
            "another model."
        ) from err
    with handle:
        file_size = os.path.getsize(path)
        declared = 0
        for name, link in _links(handle):
            if isinstance(link, h5py.ExternalLink):
                _refuse(path, name, f"is an external link to {link.filename!r}")
            if isinstance(link, h5py.SoftLink):
                _refuse(path, name, f"is a soft link to {link.path!r}")
        _check_attributes(path, "/", handle)
        for name, item in _objects(handle):
            _check_attributes(path, name, item)
            if isinstance(item, h5py.Group):
                continue
            if not isinstance(item, h5py.Dataset):
                _refuse(path, name, f"is a {type(item).__name__}, not a dataset of weights")
            declared += _checked_dataset_bytes(path, name, item, file_size)
            if declared > MAX_WEIGHT_BYTES:
                raise ModelFilesError(
                    f"{path}: the datasets up to {name!r} declare {declared:,} bytes of "
                    f"weights, over the limit of {MAX_WEIGHT_BYTES:,}; loading would try "
                    "to allocate that much memory, so it is refused."
                )


def check_weight_shapes(path: str, keras_model: Any) -> None:
    """Refuse a weights file whose datasets are not the shapes ``keras_model`` holds.

    Mirrors Keras' order-based loading (``load_weights_from_hdf5_group``): the
    n-th layer with weights in the file feeds the n-th layer with weights in
    the model. Keras would read a dataset before comparing its shape.

    Raises:
        ModelFilesError: If a layer, a weight count or a shape differs.
    """
    import h5py

    layers = [layer for layer in keras_model.layers if layer.weights]
    with h5py.File(path, "r") as handle:
        names = [
            name
            for name in _names(path, handle, "layer_names")
            if _names(path, _member(path, handle, name, h5py.Group), "weight_names")
        ]
        if len(names) != len(layers):
            raise ModelFilesError(
                f"{path} holds weights for {len(names)} layers; the network in the config has "
                f"{len(layers)}. The file belongs to another model."
            )
        for name, layer in zip(names, layers, strict=True):
            group = handle[name]
            declared = [
                tuple(_member(path, group, weight, h5py.Dataset).shape)
                for weight in _names(path, group, "weight_names")
            ]
            expected = [tuple(weight.shape) for weight in layer.weights]
            if declared != expected:
                raise ModelFilesError(
                    f"{path}: layer {name!r} declares weights of shapes {declared}; the network "
                    f"in the config expects {expected}. The file belongs to another model."
                )


def _names(path: str, group: Any, attribute: str) -> list[str]:
    """The names Keras reads from ``attribute`` (``layer_names``, ``weight_names``), checked.

    Keras opens whatever the attribute holds with ``group[name]``; h5py also accepts
    object references there, which reach objects no link leads to.
    """
    if attribute not in group.attrs:
        return []
    names = []
    for item in group.attrs[attribute]:
        if isinstance(item, bytes):
            item = item.decode("utf8", errors="replace")
        if not isinstance(item, str):
            _refuse(path, group.name, f"lists {type(item).__name__} values in {attribute!r}")
        names.append(item)
    return names


def _member(path: str, group: Any, name: str, kind: type) -> Any:
    """``group[name]``, which must exist and be a ``kind`` (h5py Group or Dataset)."""
    item = group.get(name)
    if not isinstance(item, kind):
        found = "nothing" if item is None else f"a {type(item).__name__}"
        raise ModelFilesError(
            f"{path}: {group.name!r} names {name!r}, which is {found}, not a "
            f"{kind.__name__}. The file is corrupted or belongs to another model."
        )
    return item


def _check_attributes(path: str, name: str, item: Any) -> None:
    """Refuse attributes holding object or region references (their dtype, not their values)."""
    for key in item.attrs:
        dtype = item.attrs.get_id(key).dtype
        if _holds_references(dtype):
            _refuse(path, name, f"has an attribute {key!r} of object references")


def _holds_references(dtype: Any) -> bool:
    import h5py

    if h5py.check_dtype(ref=dtype) is not None:
        return True
    if dtype.names:
        return any(_holds_references(dtype.fields[field][0]) for field in dtype.names)
    vlen = h5py.check_dtype(vlen=dtype)
    if vlen is not None and vlen not in (str, bytes):
        return _holds_references(vlen)
    return dtype.subdtype is not None and _holds_references(dtype.subdtype[0])


def _links(group: Any) -> list[tuple[str, Any]]:
    """Every link below ``group`` without following soft or external ones."""
    found: list[tuple[str, Any]] = []
    group.visit_links(lambda name: found.append((name, group.get(name, getlink=True))))
    return found


def _objects(group: Any) -> list[tuple[str, Any]]:
    """Every object reachable through hard links, each once (HDF5's own visit)."""
    found: list[tuple[str, Any]] = []
    group.visititems(lambda name, item: found.append((name, item)))
    return found


def _checked_dataset_bytes(path: str, name: str, dataset: Any, file_size: int) -> int:
    if dataset.is_virtual:
        _refuse(path, name, "is a virtual dataset (its data lives in other files)")
    if dataset.external:
        _refuse(path, name, "keeps its data in external files")
    if dataset.dtype.kind not in _NUMERIC_KINDS or dataset.dtype.names:
        _refuse(path, name, f"has dtype {dataset.dtype}, not numbers")
    if dataset.shape is None:
        _refuse(path, name, "has no shape")
    plist = dataset.id.get_create_plist()
    for index in range(plist.get_nfilters()):
        filter_id = plist.get_filter(index)[0]
        if filter_id not in _BUILT_IN_FILTERS:
            _refuse(path, name, f"uses HDF5 filter {filter_id}, which would load a plugin")
    size = math.prod(dataset.shape) * dataset.dtype.itemsize
    offset = dataset.id.get_offset()
    if offset is not None and offset + dataset.id.get_storage_size() > file_size:
        raise ModelFilesError(
            f"{path} cannot be read (dataset {name!r} ends past the end of the file); the "
            "file is truncated, corrupted or belongs to another model."
        )
    return int(size)


def _refuse(path: str, name: str, reason: str) -> NoReturn:
    raise ModelFilesError(
        f"{path}: {name!r} {reason}. Keras weights files never do this; loading it could read "
        "files outside the model, so it is refused."
    )
