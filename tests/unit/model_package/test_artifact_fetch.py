from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from streamrec.model_package.artifact_fetch import ArtifactFetcher
from streamrec.model_package.errors import (
    ArtifactDigestError,
    ArtifactError,
    ArtifactTooLargeError,
)
from streamrec.model_registry.artifact_store import FileArtifactStore, mlflow_artifact_url
from streamrec.model_registry.errors import PublishError
from streamrec.model_registry.publisher import reference_for

DATA = bytes(range(256)) * 40


class Files(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` by path; counts requests."""

    files: ClassVar[dict[str, bytes]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Files.files, Files.hits = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_file_uri_fetch_is_verified_and_cached(tmp_path: Path) -> None:
    uri = FileArtifactStore(tmp_path / "store").put(DATA)
    assert uri.startswith("file:///") and uri.endswith(f"{hashlib.sha256(DATA).hexdigest()}.srpkg")
    fetcher = ArtifactFetcher(tmp_path / "cache")
    ref = reference_for(DATA, uri, "m", "1")
    assert fetcher.fetch(ref) == DATA
    assert (tmp_path / "cache" / f"{ref.sha256}.srpkg").read_bytes() == DATA
    Path(uri[len("file://") :]).unlink()  # the store is gone: the cache still serves
    assert fetcher.fetch(ref) == DATA


def test_http_fetch_then_cache_hit_and_damaged_cache(tmp_path: Path, server: str) -> None:
    Files.files["/a/m.srpkg"] = DATA
    fetcher = ArtifactFetcher(tmp_path / "cache")
    ref = reference_for(DATA, f"{server}/a/m.srpkg", "m", "1")
    assert fetcher.fetch(ref) == DATA
    assert fetcher.fetch(ref) == DATA
    assert Files.hits == ["/a/m.srpkg"]  # second read came from the cache
    (tmp_path / "cache" / f"{ref.sha256}.srpkg").write_bytes(b"tampered")
    assert fetcher.fetch(ref) == DATA  # verified on read: damaged copy replaced
    assert len(Files.hits) == 2


def test_digest_size_and_availability_failures(tmp_path: Path, server: str) -> None:
    Files.files["/other"] = DATA[:-1] + b"x"
    Files.files["/long"] = DATA + b"more"
    Files.files["/short"] = DATA[:10]
    fetcher = ArtifactFetcher(tmp_path / "cache", max_bytes=len(DATA))
    with pytest.raises(ArtifactDigestError, match="sha256"):
        fetcher.fetch(reference_for(DATA, f"{server}/other", "m", "1"))
    with pytest.raises(ArtifactTooLargeError, match="larger than"):
        fetcher.fetch(reference_for(DATA, f"{server}/long", "m", "1"))
    with pytest.raises(ArtifactDigestError, match="10 bytes"):
        fetcher.fetch(reference_for(DATA, f"{server}/short", "m", "1"))
    with pytest.raises(ArtifactError, match="HTTP 404"):
        fetcher.fetch(reference_for(DATA, f"{server}/missing", "m", "1"))
    with pytest.raises(ArtifactTooLargeError, match="at most"):
        fetcher.fetch(reference_for(DATA + b"!", f"{server}/long", "m", "1"))
    with pytest.raises(ArtifactError, match="unreachable"):
        fetcher.fetch(reference_for(DATA, "http://127.0.0.1:9/x", "m", "1"))
    with pytest.raises(ArtifactError, match="FileNotFoundError"):
        fetcher.fetch(reference_for(DATA, (tmp_path / "nope").as_uri(), "m", "1"))
    with pytest.raises(ArtifactError, match="only http"):
        fetcher.fetch(reference_for(DATA, "file://remotehost/x", "m", "1"))
    assert not list((tmp_path / "cache").glob("*.srpkg"))  # nothing bad was cached


def test_mlflow_artifact_urls() -> None:
    assert (
        mlflow_artifact_url("mlflow-artifacts:/1/abc/artifacts/package/model.srpkg", "http://h:5/")
        == "http://h:5/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/package/model.srpkg"
    )
    assert mlflow_artifact_url("/tmp/a/model.srpkg", "x") == "file:///tmp/a/model.srpkg"
    assert mlflow_artifact_url("file:///tmp/a", "x") == "file:///tmp/a"
    with pytest.raises(PublishError, match="not one the job can fetch"):
        mlflow_artifact_url("s3://bucket/a", "x")
