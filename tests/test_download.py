"""Downloads: checksums, atomic failure, retries on an unreachable URL, resume with Range."""

import hashlib
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dnatune.genome.download import DownloadError, download, fetch_text

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def http_server():
    """Start a local server whose handler is built per test; yields (start, requests)."""
    servers = []
    requests: list[dict] = []

    def start(cut_first: int | None = None, honour_range: bool = True) -> str:
        class Handler(BaseHTTPRequestHandler):
            """Serves /data.bin; honours `Range: bytes=N-` (unlike SimpleHTTPRequestHandler)
            and can break off the first response after `cut_first` bytes."""

            def do_GET(self):
                requests.append({"path": self.path, "range": self.headers.get("Range")})
                if self.path != "/data.bin":
                    self.send_error(404, "Not Found")
                    return
                start = 0
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and honour_range:
                    start = int(match.group(1))
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"
                    )
                else:
                    self.send_response(200)
                body = PAYLOAD[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if cut_first is not None and len(requests) == 1:
                    self.wfile.write(body[:cut_first])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start, requests
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_file_url_with_matching_sha256(tmp_path):
    src = tmp_path / "src" / "genome.fa.gz"
    src.parent.mkdir()
    src.write_bytes(PAYLOAD)
    dest = tmp_path / "results" / "genome.download"
    done = download(src.as_uri(), dest, sha256=sha256(PAYLOAD).upper())
    assert dest.read_bytes() == PAYLOAD
    assert (done.bytes, done.sha256, done.attempts) == (len(PAYLOAD), sha256(PAYLOAD), 1)
    assert done.md5 == hashlib.md5(PAYLOAD).hexdigest()


@pytest.mark.parametrize("kind", ["sha256", "md5"])
def test_checksum_mismatch_leaves_nothing_in_the_destination(tmp_path, kind):
    src = tmp_path / "genome.fa"
    src.write_bytes(PAYLOAD)
    results = tmp_path / "results"
    expected = {"sha256": "0" * 64, "md5": "0" * 32}[kind]
    with pytest.raises(DownloadError, match=f"{kind} checksum mismatch: expected 0+, got"):
        download(src.as_uri(), results / "genome.download", **{kind: expected})
    assert list(results.iterdir()) == []


def test_unreachable_url_fails_clearly_after_retries(tmp_path, caplog):
    url = f"http://127.0.0.1:{closed_port()}/genome.fa.gz"
    results = tmp_path / "results"
    with (
        caplog.at_level(logging.WARNING, logger="dnatune.genome.download"),
        pytest.raises(DownloadError, match=r"could not download .*genome\.fa\.gz after 3 attempts"),
    ):
        download(url, results / "genome.download", retries=3, backoff=0.001, timeout=5)
    assert len(re.findall(r"attempt \d/3 failed", caplog.text)) == 2
    assert "refused" in caplog.text.lower()
    assert list(results.iterdir()) == []


def test_http_404_is_final_without_retries(tmp_path, http_server):
    start, requests = http_server
    base = start()
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{base}/missing.fa", tmp_path / "x", retries=4, backoff=0.001)
    assert len(requests) == 1


def test_broken_transfer_resumes_with_range(tmp_path, http_server):
    start, requests = http_server
    base = start(cut_first=30_000)
    done = download(
        f"{base}/data.bin", tmp_path / "data", retries=3, backoff=0.001, chunk_size=4096
    )
    assert (tmp_path / "data").read_bytes() == PAYLOAD
    assert done.resumed and done.attempts == 2
    assert [r["range"] for r in requests] == [None, "bytes=30000-"]
    assert done.sha256 == sha256(PAYLOAD)


def test_server_without_range_support_restarts_from_zero(tmp_path, http_server):
    start, requests = http_server
    base = start(cut_first=30_000, honour_range=False)
    done = download(f"{base}/data.bin", tmp_path / "data", retries=3, backoff=0.001)
    assert (tmp_path / "data").read_bytes() == PAYLOAD
    assert not done.resumed and done.attempts == 2
    assert requests[1]["range"] == "bytes=30000-"  # asked, answered 200, read again from 0


def test_broken_transfer_without_retries_left_leaves_nothing(tmp_path, http_server):
    start, _ = http_server
    base = start(cut_first=1000)
    with pytest.raises(DownloadError, match="after 1 attempts .*ended at byte 1000 of 102400"):
        download(f"{base}/data.bin", tmp_path / "out" / "data", retries=1)
    assert list((tmp_path / "out").iterdir()) == []


def test_fetch_text_reads_small_resources(tmp_path):
    page = tmp_path / "listing.html"
    page.write_text("<a href='x/'>x/</a>")
    assert fetch_text(page.as_uri()) == "<a href='x/'>x/</a>"
