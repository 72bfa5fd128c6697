"""The ArtifactStore contract, run against every store in STORES (OCI joins with one entry)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import pytest

from tests.plugins.oci_endpoint import oci_test_store
from voxflow.artifacts import (
    ArtifactNotFound,
    ArtifactStore,
    InvalidKey,
    LocalStore,
    open_store,
    validate_key,
)
from voxflow.artifacts.base import TEMP_PREFIX
from voxflow.errors import ConfigError, VoxflowError
from voxflow.settings import Settings


def _local(tmp_path: Path) -> ArtifactStore:
    return LocalStore(tmp_path / "artifacts")


STORES = {"local": _local, "oci": oci_test_store}


@pytest.fixture(params=sorted(STORES))
def store(request, tmp_path) -> ArtifactStore:
    return STORES[request.param](tmp_path)


class FailingStream(io.RawIOBase):
    """Yields some bytes, then fails like a dropped upload."""

    def __init__(self, first: bytes) -> None:
        self.first = first
        self.calls = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        if self.calls == 1:
            return self.first
        raise OSError("connection dropped mid-upload")


def files_on_disk(store: ArtifactStore) -> list[str]:
    root = getattr(store, "root", None)
    if root is None:
        return []
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*") if p.is_file())


def test_satisfies_protocol(store):
    assert isinstance(store, ArtifactStore)


def test_put_get_exists(store):
    key = "segments/ab/abc.wav"
    assert not store.exists(key)
    store.put(key, b"RIFF-data")
    assert store.exists(key)
    assert store.get(key) == b"RIFF-data"


def test_put_stream_and_open_streaming(store):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    store.put("big/book.wav", io.BytesIO(payload))
    with store.open("big/book.wav") as stream:
        chunks = iter(lambda: stream.read(64 * 1024), b"")
        assert b"".join(chunks) == payload


def test_put_file(store, tmp_path):
    source = tmp_path / "source.json"
    source.write_bytes(b'{"a": 1}')
    store.put_file("projects/1/manifest.json", source)
    assert store.get("projects/1/manifest.json") == b'{"a": 1}'


def test_overwrite_replaces_content(store):
    store.put("a/b.txt", b"old content that is longer")
    store.put("a/b.txt", b"new")
    assert store.get("a/b.txt") == b"new"


def test_empty_artifact(store):
    store.put("empty.bin", b"")
    assert store.exists("empty.bin")
    assert store.get("empty.bin") == b""


def test_failed_write_leaves_nothing(store):
    with pytest.raises(OSError, match="mid-upload"):
        store.put("segments/cd/cdef.wav", FailingStream(b"partial"))
    assert not store.exists("segments/cd/cdef.wav")
    assert list(store.list("")) == []
    assert files_on_disk(store) == []


def test_failed_overwrite_keeps_old_artifact(store):
    store.put("a/b.wav", b"complete old audio")
    with pytest.raises(OSError):
        store.put("a/b.wav", FailingStream(b"partial"))
    assert store.get("a/b.wav") == b"complete old audio"
    assert list(store.list("")) == ["a/b.wav"]
    assert files_on_disk(store) in ([], ["a/b.wav"])


def test_missing_artifact(store):
    with pytest.raises(ArtifactNotFound) as raised:
        store.get("nope/missing.wav")
    assert raised.value.key == "nope/missing.wav"
    assert "nope/missing.wav" in str(raised.value)
    assert isinstance(raised.value, VoxflowError)
    assert isinstance(raised.value, LookupError)
    with pytest.raises(ArtifactNotFound), store.open("nope/missing.wav"):
        pass


def test_folder_is_not_an_artifact(store):
    store.put("a/b/c.txt", b"x")
    assert not store.exists("a/b")
    with pytest.raises(ArtifactNotFound):
        store.get("a/b")


def test_delete_is_idempotent(store):
    store.put("x/y.txt", b"1")
    store.delete("x/y.txt")
    assert not store.exists("x/y.txt")
    store.delete("x/y.txt")
    with pytest.raises(ArtifactNotFound):
        store.get("x/y.txt")


def test_list_by_prefix_sorted(store):
    for key in ["b/4", "a/2", "ab/3", "a/1", "a/x/y/5", "top"]:
        store.put(key, key.encode())
    assert list(store.list("")) == ["a/1", "a/2", "a/x/y/5", "ab/3", "b/4", "top"]
    assert list(store.list("a/")) == ["a/1", "a/2", "a/x/y/5"]
    assert list(store.list("a")) == ["a/1", "a/2", "a/x/y/5", "ab/3"]
    assert list(store.list("a/x/")) == ["a/x/y/5"]
    assert list(store.list("zzz/")) == []
    assert list(store.list("t")) == ["top"]


def test_url_names_the_artifact(store):
    store.put("projects/7/book.m4b", b"m4b")
    url = store.url("projects/7/book.m4b")
    assert isinstance(url, str)
    assert "book.m4b" in url


BAD_KEYS = [
    "",
    "../x",
    "/etc/passwd",
    "a/../../b",
    "a/./b",
    "a\\b",
    "..\\x",
    "a//b",
    "a/",
    "nul\x00byte",
    "line\nbreak",
    f"a/{TEMP_PREFIX}123",
    "x" * 1025,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_refused_everywhere(store, key):
    operations = [
        lambda: store.put(key, b"x"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.url(key),
        lambda: store.local_path(key),
    ]
    for operation in operations:
        with pytest.raises(InvalidKey):
            operation()
    with pytest.raises(InvalidKey), store.open(key):
        pass
    assert list(store.list("")) == []


@pytest.mark.parametrize("prefix", ["../", "/etc", "a/../", "a\\"])
def test_bad_list_prefix_refused(store, prefix):
    with pytest.raises(InvalidKey):
        list(store.list(prefix))


def test_invalid_key_message_says_why():
    with pytest.raises(InvalidKey, match=r"'\.\.' parts are not allowed"):
        validate_key("a/../../b")
    with pytest.raises(InvalidKey, match="absolute"):
        validate_key("/etc/passwd")
    with pytest.raises(InvalidKey, match="backslash"):
        validate_key("a\\b")
    assert validate_key("segments/ab/abc.wav") == "segments/ab/abc.wav"
    assert validate_key("a/", prefix=True) == "a/"


# Local-only behaviour: files on disk, symlinks, file:// URLs.


def test_local_symlinked_folder_escaping_root_refused(tmp_path):
    store = LocalStore(tmp_path / "root")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InvalidKey, match="outside"):
        store.put("link/x", b"evil")
    with pytest.raises(InvalidKey, match="outside"):
        store.get("link/secret")
    with pytest.raises(InvalidKey):
        store.delete("link/secret")
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_local_symlinked_file_escaping_root_refused(tmp_path):
    store = LocalStore(tmp_path / "root")
    target = tmp_path / "passwd"
    target.write_bytes(b"root:x:0:0")
    (store.root / "f").symlink_to(target)
    with pytest.raises(InvalidKey):
        store.get("f")
    with pytest.raises(InvalidKey):
        store.put("f", b"overwrite")
    assert target.read_bytes() == b"root:x:0:0"


def test_local_symlink_inside_root_allowed(tmp_path):
    store = LocalStore(tmp_path / "root")
    store.put("real/a.txt", b"a")
    (store.root / "alias").symlink_to(store.root / "real", target_is_directory=True)
    assert store.get("alias/a.txt") == b"a"


def test_local_failed_fsync_leaves_no_temp_file(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "root")

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put("a/b.wav", b"data")
    assert files_on_disk(store) == []


def test_local_url_and_path(tmp_path):
    store = LocalStore(tmp_path / "root")
    store.put("projects/1/book.m4b", b"m4b")
    path = store.local_path("projects/1/book.m4b")
    assert path == store.root / "projects" / "1" / "book.m4b"
    assert path.read_bytes() == b"m4b"
    url = store.url("projects/1/book.m4b")
    assert urlparse(url).scheme == "file"
    assert Path(url2pathname(urlparse(url).path)) == path
    assert (path.stat().st_mode & 0o777) == 0o644


def test_open_store_local(tmp_path):
    settings = Settings(data_dir=tmp_path, artifact_store="local")
    store = open_store(settings)
    assert isinstance(store, LocalStore)
    assert store.root == (tmp_path / "artifacts").resolve()
    store.put("k", b"v")
    assert (tmp_path / "artifacts" / "k").read_bytes() == b"v"


def test_open_store_oci_needs_a_bucket(tmp_path):
    settings = Settings(data_dir=tmp_path, artifact_store="oci")
    with pytest.raises(ConfigError, match="VOXFLOW_OCI_BUCKET"):
        open_store(settings)
