"""fsspec IO helpers: every URI is either an absolute local path or a remote URL such as s3://bucket/key."""

from __future__ import annotations

import io
import json
import os
import uuid
from typing import Any

import fsspec
import pandas as pd
from fsspec.implementations.local import LocalFileSystem


def join(uri: str, *parts: str) -> str:
    """Join URI segments with '/', which is right for both local paths and object stores."""
    return "/".join([uri.rstrip("/"), *(p.strip("/") for p in parts)])


def _fs(uri: str) -> tuple[fsspec.AbstractFileSystem, str]:
    fs, path = fsspec.core.url_to_fs(uri)
    return fs, path


def is_local(uri: str) -> bool:
    return isinstance(_fs(uri)[0], LocalFileSystem)


def exists(uri: str) -> bool:
    fs, path = _fs(uri)
    return bool(fs.exists(path))


def read_bytes(uri: str) -> bytes:
    fs, path = _fs(uri)
    return bytes(fs.cat_file(path))


def write_bytes(uri: str, data: bytes) -> None:
    fs, path = _fs(uri)
    if isinstance(fs, LocalFileSystem):
        fs.makedirs(fs._parent(path), exist_ok=True)
    fs.pipe_file(path, data)


def write_bytes_atomic(uri: str, data: bytes) -> None:
    """Readers must never see a partial file: temp file + rename locally, a single PUT on object stores."""
    fs, path = _fs(uri)
    if not isinstance(fs, LocalFileSystem):
        fs.pipe_file(path, data)  # one PUT is atomic on S3
        return
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_json(uri: str) -> Any:
    return json.loads(read_bytes(uri))


def dumps(obj: Any) -> bytes:
    # allow_nan=False: NaN/Infinity are not JSON and would break the TypeScript reader.
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False).encode("utf-8")


def write_json(uri: str, obj: Any, atomic: bool = False) -> None:
    (write_bytes_atomic if atomic else write_bytes)(uri, dumps(obj))


def read_parquet(uri: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(read_bytes(uri)))


def write_parquet(df: pd.DataFrame, uri: str) -> None:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    write_bytes(uri, buf.getvalue())


def ray_storage_path(uri: str) -> str:
    """Ray's RunConfig(storage_path) takes plain local paths or URLs (s3://...), but not file://."""
    return uri[len("file://"):] if uri.startswith("file://") else uri


def fs_path_to_uri(fs_path: str, like_uri: str) -> str:
    """Ray reports checkpoint paths without the scheme; put back the one the storage URI had."""
    if "://" in like_uri and not like_uri.startswith("file://"):
        scheme = like_uri.split("://", 1)[0]
        return f"{scheme}://{fs_path.lstrip('/')}"
    return fs_path


def put_folder(local_dir: str, uri: str, exclude: tuple[str, ...] = ()) -> None:
    """Copies a local folder's files (recursively) to `uri`, a local folder or an object-store prefix."""
    for root, _dirs, files in os.walk(local_dir):
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), local_dir)
            if rel in exclude:
                continue
            with open(os.path.join(root, name), "rb") as f:
                write_bytes(join(uri, *rel.split(os.sep)), f.read())


def get_folder(uri: str, local_dir: str) -> None:
    """Copies every object under `uri` into a local folder."""
    fs, path = _fs(uri)
    base = path.rstrip("/")
    for found in fs.find(base):
        rel = str(found)[len(base):].lstrip("/")
        dest = os.path.join(local_dir, *rel.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(bytes(fs.cat_file(found)))
