"""Read PyTorch checkpoints without importing torch.

Both file formats `torch.save` has written since 0.4 are supported:

* the zip format (torch >= 1.6): `<root>/data.pkl` holds the object graph, each tensor
  storage is a raw little-endian file `<root>/data/<key>`;
* the legacy stream (older files such as `s3fd.pth`): a sequence of pickles (magic
  number, protocol version, system info, the object graph, the sorted storage keys)
  followed by every storage as an 8-byte element count and its raw bytes.

A checkpoint is a pickle, and a pickle from a user is code. The unpickler here resolves
only the handful of globals a state_dict needs (tensor and parameter rebuild functions,
typed storage classes, OrderedDict) and refuses everything else with `CheckpointError`.
Tensors are materialised lazily and only for the state_dict, so optimizer state in a
training checkpoint is never loaded into memory.
"""
import collections
import io
import lzma
import math
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
# No model weight has a dimension this long; numpy's index type would overflow near 2**63.
_MAX_DIMENSION = 1 << 40


class CheckpointError(Exception):
    """A checkpoint that cannot be read safely; the message names the file and the problem."""


class _StorageType:
    """Stand-in for torch.FloatStorage & co.: only carries the element dtype."""

    def __init__(self, name, dtype):
        self.name = name
        self.dtype = dtype


# torch storage class name -> numpy dtype ("bfloat16" handled specially).
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _Storage:
    """One tensor storage: its dtype, element count and (once read) its data."""

    def __init__(self, key, storage_type, numel):
        self.key = key
        self.storage_type = storage_type
        self.numel = numel
        self.data = None

    def itemsize(self):
        return 2 if self.storage_type.dtype == "bfloat16" else np.dtype(self.storage_type.dtype).itemsize

    def set_bytes(self, raw, where):
        expected = self.numel * self.itemsize() if self.numel is not None else None
        if expected is not None and len(raw) < expected:
            raise CheckpointError(f"{where}: storage {self.key} has {len(raw)} bytes, needs {expected} (file truncated?)")
        if self.storage_type.dtype == "bfloat16":
            bits = np.frombuffer(raw, dtype="<u2", count=len(raw) // 2).astype(np.uint32) << 16
            self.data = bits.view(np.float32)
        else:
            dtype = np.dtype(self.storage_type.dtype).newbyteorder("<")
            self.data = np.frombuffer(raw, dtype=dtype, count=len(raw) // dtype.itemsize)
        if self.numel is None:
            self.numel = self.data.size


class _TensorRef:
    """A tensor described by the pickle, materialised once its storage is read."""

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)

    def materialise(self, name, where):
        data = self.storage.data
        if data is None:
            raise CheckpointError(f"{where}: tensor {name} refers to storage {self.storage.key}, which the file does not contain")
        if (len(self.size) != len(self.stride) or any(s < 0 or s > _MAX_DIMENSION for s in self.size)
                or any(s < 0 for s in self.stride) or self.offset < 0):
            raise CheckpointError(f"{where}: tensor {name} has an invalid shape {self.size} / stride {self.stride}")
        if 0 in self.size:
            return np.zeros(self.size, dtype=data.dtype)
        # Zero strides would let a few bytes of storage stand for any number of elements (a
        # (100000, 100000) tensor from one float is 37 GiB); a weight never repeats its storage.
        count = math.prod(self.size)
        if count > data.size:
            raise CheckpointError(f"{where}: tensor {name} {self.size} has {count} elements, more than its storage's {data.size}")
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= data.size:
            raise CheckpointError(f"{where}: tensor {name} {self.size} reaches element {last} of a storage with {data.size}")
        # A dimension of length 1 is never stepped along, so its stride (which may be any size) is moot.
        strides = [0 if n == 1 else s * data.itemsize for n, s in zip(self.size, self.stride)]
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size, strides=strides, writeable=False)
        return np.array(view, order="C", copy=True)  # (ascontiguousarray would turn a 0-d tensor into 1-d)


def _tensor_ref(storage, storage_offset, size, stride):
    # Raised inside the unpickler, so the message reaches the caller as an unreadable pickle.
    if not isinstance(storage, _Storage):
        raise ValueError(f"a tensor's storage is a {type(storage).__name__}, not a storage reference")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    return _tensor_ref(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor_ref(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None, state=None):
    return data


# The pure-Python unpickler, not the C one: the C unpickler keeps its memo in an array as long
# as the largest index a PUT names, so a 300-byte pickle with LONG_BINPUT 174417761 makes it
# allocate and clear 1.4 GB (seconds; up to 32 GB for 2**32). The Python one keeps the memo in
# a dict. Its speed is no concern here: data.pkl holds only the object graph, not the tensors.
class _RestrictedUnpickler(pickle._Unpickler):
    dispatch = dict(pickle._Unpickler.dispatch)

    def load_protocol5_buffer(self):
        # Out-of-band buffers are never in a checkpoint (torch.save writes protocol 2), and
        # BYTEARRAY8 allocates the size it names before reading: 8 bytes could ask for terabytes.
        raise CheckpointError(f"{self._where}: the pickle uses protocol 5 buffers (BYTEARRAY8…), which torch.save never writes")

    for _opcode in (pickle.BYTEARRAY8, pickle.NEXT_BUFFER, pickle.READONLY_BUFFER):
        dispatch[_opcode[0]] = load_protocol5_buffer
    del _opcode

    def __init__(self, file, where, persistent_load):
        super().__init__(file)
        self._where = where
        self._persistent = persistent_load

    def load_build(self):
        # BUILD sets an object's attributes. torch uses it only for the `_metadata` of a
        # state_dict's OrderedDict; on a storage type or a tensor reference it would replace
        # the values this reader has checked.
        if len(self.stack) < 2 or not isinstance(self.stack[-2], dict):
            target = type(self.stack[-2]).__name__ if len(self.stack) >= 2 else "nothing"
            raise CheckpointError(f"{self._where}: the pickle sets attributes of a {target} (only a dict's are allowed)")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils":
            allowed = {"_rebuild_tensor_v2": _rebuild_tensor_v2, "_rebuild_tensor": _rebuild_tensor,
                       "_rebuild_parameter": _rebuild_parameter, "_rebuild_parameter_with_state": _rebuild_parameter_with_state}
            if name in allowed:
                return allowed[name]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name, _STORAGE_DTYPES[name])
        raise CheckpointError(f"{self._where}: refusing to load global '{module}.{name}' — "
                              "a state_dict needs only tensors and containers, so this file may run code")

    def persistent_load(self, pid):
        return self._persistent(pid)


def _unpickle(stream, where, persistent_load=None):
    def refuse(pid):
        raise CheckpointError(f"{where}: unexpected persistent reference {pid!r}")

    try:
        return _RestrictedUnpickler(stream, where, persistent_load or refuse).load()
    except CheckpointError:
        raise
    except Exception as error:  # malformed pickle bytes of any kind
        raise CheckpointError(f"{where}: not a readable PyTorch pickle ({type(error).__name__}: {error})") from None


# What the zipfile module raises for a damaged archive or member: bad headers and CRCs,
# truncated or corrupt compressed data (zlib, bz2 → OSError, lzma), compression methods
# or encryption it does not support, sizes that do not fit. Caught only around zipfile's
# own calls, so a bug of this module is never mistaken for a damaged file.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, OverflowError,
               NotImplementedError, RuntimeError, zlib.error, lzma.LZMAError, struct.error)


def _zip_member(archive, name, path):
    """The bytes of one member; a damaged member is a CheckpointError naming it."""
    try:
        return archive.read(name)
    except _ZIP_ERRORS as error:
        raise CheckpointError(f"{path}: cannot read {name} ({type(error).__name__}: {error})") from None


def _read_zip(path):
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as error:
        raise CheckpointError(f"{path}: damaged zip checkpoint ({type(error).__name__}: {error})") from None
    try:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise CheckpointError(f"{path}: a zip checkpoint must hold exactly one data.pkl (found {len(pickles)})")
        root = pickles[0][: -len("data.pkl")]
        byteorder = root + "byteorder"
        if byteorder in names and _zip_member(archive, byteorder, path).strip() != b"little":
            raise CheckpointError(f"{path}: big-endian checkpoints are not supported")
        storages = {}

        def persistent_load(pid):
            if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or not isinstance(pid[1], _StorageType):
                raise CheckpointError(f"{path}: unsupported storage reference {pid!r}")
            _, storage_type, key, _location, numel = pid[:5]
            key = str(key)
            if key not in storages:
                storages[key] = _Storage(key, storage_type, int(numel))
            return storages[key]

        obj = _unpickle(io.BytesIO(_zip_member(archive, pickles[0], path)), path, persistent_load)

        def load(storage):
            member = f"{root}data/{storage.key}"
            if member not in names:
                raise CheckpointError(f"{path}: storage file {member} is missing")
            storage.set_bytes(_zip_member(archive, member, path), path)

        return obj, load, archive.close
    except BaseException:
        archive.close()
        raise


def _read_legacy(path):
    with open(path, "rb") as stream:
        magic = _unpickle(stream, path)
        if magic != LEGACY_MAGIC:
            raise CheckpointError(f"{path}: not a PyTorch checkpoint (bad magic number)")
        protocol = _unpickle(stream, path)
        if protocol != LEGACY_PROTOCOL:
            raise CheckpointError(f"{path}: unsupported legacy protocol {protocol!r}")
        _unpickle(stream, path)  # system info (endianness, type sizes)
        storages = {}

        def persistent_load(pid):
            if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or not isinstance(pid[1], _StorageType):
                raise CheckpointError(f"{path}: unsupported storage reference {pid!r}")
            storage_type, key = pid[1], str(pid[2])
            view = pid[5] if len(pid) > 5 else None
            if key not in storages:
                storages[key] = _Storage(key, storage_type, None)
            if view is not None:  # (view key, offset, size): a view into the root storage
                view_key, view_offset, view_size = view
                view_key, view_offset, view_size = str(view_key), int(view_offset), int(view_size)
                if view_offset < 0 or view_size < 0:
                    raise CheckpointError(f"{path}: storage view {view_key} has a negative offset or size")
                if view_key not in storages:
                    storages[view_key] = _ViewStorage(view_key, storage_type, storages[key], view_offset, view_size)
                return storages[view_key]
            return storages[key]

        obj = _unpickle(stream, path, persistent_load)
        keys = _unpickle(stream, path)
        if not isinstance(keys, list):
            raise CheckpointError(f"{path}: damaged storage key list")
        offsets = {}
        file_size = os.fstat(stream.fileno()).st_size
        for key in keys:
            header = stream.read(8)
            if len(header) != 8:
                raise CheckpointError(f"{path}: file ends before storage {key} (truncated)")
            (count,) = struct.unpack("<q", header)
            storage = storages.get(str(key))
            if storage is None:
                raise CheckpointError(f"{path}: storage {key} is listed but never referenced")
            if count < 0:
                raise CheckpointError(f"{path}: storage {key} has a negative size")
            start, length = stream.tell(), count * storage.itemsize()
            # Checked before seeking: a size beyond the file (up to 2**63 elements) is a
            # truncated or damaged file, not a seek error.
            if start + length > file_size:
                raise CheckpointError(f"{path}: file ends inside the tensor data of storage {key} (truncated)")
            offsets[str(key)] = (start, length)
            stream.seek(length, os.SEEK_CUR)

    def load(storage):
        if isinstance(storage, _ViewStorage):
            load(storage.root)
            storage.data = storage.root.data[storage.offset: storage.offset + storage.numel]
            return
        if storage.data is not None:
            return
        if storage.key not in offsets:
            raise CheckpointError(f"{path}: storage {storage.key} has no data in the file")
        start, length = offsets[storage.key]
        with open(path, "rb") as data_stream:
            data_stream.seek(start)
            storage.set_bytes(data_stream.read(length), path)

    return obj, load, lambda: None


class _ViewStorage(_Storage):
    def __init__(self, key, storage_type, root, offset, numel):
        super().__init__(key, storage_type, numel)
        self.root = root
        self.offset = offset


def _state_dict(obj, path):
    # Wrappers seen in the original systems' checkpoints: Wav2Lip {'state_dict'}, FreeVC
    # net_g and WavLM {'model'}, the FreeVC speaker encoder {'model_state'}.
    for wrapper in ("state_dict", "model", "model_state"):
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{path}: no state_dict found (expected a dict of tensors or {{'state_dict': …}})")
    tensors = {k: v for k, v in obj.items() if isinstance(v, _TensorRef)}
    if not tensors:
        raise CheckpointError(f"{path}: the state_dict holds no tensors")
    for name in tensors:
        if not isinstance(name, str):
            raise CheckpointError(f"{path}: the state_dict names a tensor {name!r}, not a string")
    return tensors


def load_state_dict(path):
    """Returns {name: numpy array} of the checkpoint's state_dict (float16 and bfloat16
    widened to float32), with the `module.` prefix of DataParallel checkpoints removed as
    the original loaders do (`k.replace('module.', '')`)."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    with open(path, "rb") as stream:
        head = stream.read(4)
    if len(head) < 2:
        raise CheckpointError(f"{path}: empty or truncated file")
    if head.startswith(b"PK"):
        obj, load, close = _read_zip(path)
    elif head[:1] == b"\x80":
        obj, load, close = _read_legacy(path)
    else:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither zip nor pickle)")
    try:
        tensors = _state_dict(obj, path)
        # A storage's bytes are dropped once its last tensor is copied out, so the file's
        # data and the arrays are not both held in full (WavLM-Large: 1.26 GB each).
        pending = collections.Counter()
        for ref in tensors.values():
            for storage in _storages(ref.storage):
                pending[id(storage)] += 1
        result = {}
        for name, ref in tensors.items():
            load(ref.storage)
            array = ref.materialise(name, path)
            if array.dtype == np.float16:
                array = array.astype(np.float32)
            result[name.replace("module.", "")] = array
            for storage in _storages(ref.storage):
                pending[id(storage)] -= 1
                if pending[id(storage)] == 0:
                    storage.data = None
        return result
    finally:
        close()


def _storages(storage):
    """A storage and, for a view into another one, that root storage."""
    return (storage, storage.root) if isinstance(storage, _ViewStorage) else (storage,)
