"""Downloads against a loopback HTTP server: checksums, resume after a dropped connection, corruption."""
from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.train.data import open_dataset, write_spike_file
from snn_deploy.train.data.download import download_dataset, fetch, parse_checksum_list


class Handler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    drop_once: set[str] = set()  # first GET of these files sends half the body, then hangs up
    requests: list[tuple[str, str | None]] = []

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        name = self.path.lstrip("/")
        rng = self.headers.get("Range")
        type(self).requests.append((name, rng))
        if name not in self.files:
            self.send_error(404)
            return
        body = self.files[name]
        start = int(rng.split("=")[1].split("-")[0]) if rng else 0
        self.send_response(206 if rng else 200)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if name in self.drop_once:
            self.drop_once.discard(name)
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        self.wfile.write(payload)


@pytest.fixture
def server():
    Handler.files, Handler.drop_once, Handler.requests = {}, set(), []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", Handler
    httpd.shutdown()
    httpd.server_close()


def spike_gz(tmp_path, name, n):
    rng = np.random.default_rng(n)
    p = tmp_path / name
    times = [np.sort(rng.uniform(0, 1.4, 300)) for _ in range(n)]
    units = [rng.integers(0, 700, 300) for _ in range(n)]
    write_spike_file(p, times, units, rng.integers(0, 20, n), class_names=[str(i) for i in range(20)])
    return gzip.compress(p.read_bytes(), mtime=0)


def md5(data):
    return hashlib.md5(data).hexdigest()


def test_shd_download_resumes_after_dropped_connection(server, tmp_path, capsys):
    url, h = server
    train, test = spike_gz(tmp_path, "a.h5", 12), spike_gz(tmp_path, "b.h5", 5)
    h.files = {"shd_train.h5.gz": train, "shd_test.h5.gz": test,
               "md5sums.txt": f"{md5(train)}  shd_train.h5.gz\n{md5(test)}  ./shd_test.h5.gz\n".encode()}
    h.drop_once = {"shd_train.h5.gz"}
    out = tmp_path / "shd"
    from snn_deploy.cli import main

    assert main(["data", "download", "shd", "--dir", str(out), "--base-url", url]) == 0
    assert "2 file(s) downloaded" in capsys.readouterr().out
    # the dropped transfer was continued from where it stopped, with a Range request
    train_requests = [r for r in h.requests if r[0] == "shd_train.h5.gz"]
    assert train_requests[0] == ("shd_train.h5.gz", None)
    assert train_requests[1] == ("shd_train.h5.gz", f"bytes={(len(train)) // 2}-")
    assert len(open_dataset(out, "train")) == 12 and len(open_dataset(out, "test")) == 5
    assert not list(out.glob("*.gz")) and not list(out.glob(".*.part"))
    assert (out / "download.json").is_file()
    # a second run finds everything unpacked and downloads nothing
    n = len(h.requests)
    record = download_dataset("shd", out, base_url=url, progress=False)
    assert all("skipped" in f for f in record["files"]) and len(h.requests) == n + 1  # md5sums.txt only


def test_corrupt_download_is_removed(server, tmp_path):
    url, h = server
    good = spike_gz(tmp_path, "a.h5", 3)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    h.files = {"shd_train.h5.gz": bytes(bad), "shd_test.h5.gz": good,
               "md5sums.txt": f"{md5(good)}  shd_train.h5.gz\n{md5(good)}  shd_test.h5.gz\n".encode()}
    out = tmp_path / "shd"
    with pytest.raises(SnnDeployError, match=r"checksum mismatch for .*shd_train\.h5\.gz.*expected md5"):
        download_dataset("shd", out, base_url=url, progress=False)
    assert sorted(p.name for p in out.iterdir()) == [".shd.md5sums.txt"]  # nothing that looks complete


def test_resume_from_partial_file_and_missing_file(server, tmp_path):
    url, h = server
    data = bytes(range(256)) * 1000
    h.files = {"blob.bin": data}
    dest = tmp_path / "blob.bin"
    (tmp_path / ".blob.bin.part").write_bytes(data[:100_000])
    rec = fetch(url + "blob.bin", dest, checksum=("sha256", hashlib.sha256(data).hexdigest()), progress=False)
    assert dest.read_bytes() == data and rec["resumed_from"] == 100_000
    assert h.requests == [("blob.bin", "bytes=100000-")]
    with pytest.raises(SnnDeployError, match="HTTP 404"):
        fetch(url + "nope.bin", tmp_path / "nope.bin", checksum=("md5", "0" * 32), progress=False)


def test_truncated_gzip_with_matching_checksum(server, tmp_path):
    url, h = server
    gz = spike_gz(tmp_path, "a.h5", 4)[:-200]
    h.files = {"shd_train.h5.gz": gz, "shd_test.h5.gz": gz,
               "md5sums.txt": f"{md5(gz)}  shd_train.h5.gz\n{md5(gz)}  shd_test.h5.gz\n".encode()}
    with pytest.raises(FormatError, match=r"shd_train\.h5\.gz: cannot decompress"):
        download_dataset("shd", tmp_path / "d", base_url=url, progress=False)
    assert not (tmp_path / "d" / "shd_train.h5").exists()


def _tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _wav_bytes():
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, (0.1 * np.sin(np.arange(8000) / 5)).astype(np.float32), 16000, format="WAV")
    return buf.getvalue()


@pytest.mark.audio
def test_hd_and_sc_archives(server, tmp_path):
    url, h = server
    wav = _wav_bytes()
    name = "lang-german_speaker-03_trial-1_digit-2.wav"
    hd = _tar({f"hd_audio/audio/{name}": wav, "hd_audio/train_filenames.txt": (name + "\n").encode(),
               "hd_audio/test_filenames.txt": (name + "\n").encode()})
    h.files = {"hd_audio.tar.gz": hd, "md5sums.txt": f"{md5(hd)}  hd_audio.tar.gz\n".encode()}
    download_dataset("hd", tmp_path / "hd", base_url=url, progress=False)
    ds = open_dataset(tmp_path / "hd", "train")
    assert ds.labels.tolist() == [12] and ds[0][0].shape == (100, 40)

    sc = _tar({"yes/a_nohash_0.wav": wav, "no/a_nohash_0.wav": wav, "validation_list.txt": b"",
               "testing_list.txt": b"no/a_nohash_0.wav\n"})
    h.files["speech_commands_v0.02.tar.gz"] = sc
    download_dataset("sc", tmp_path / "sc", base_url=url, progress=False,
                     checksums={"speech_commands_v0.02.tar.gz": ("sha256", hashlib.sha256(sc).hexdigest())})
    assert open_dataset(tmp_path / "sc", "train").labels.tolist() == [1]
    assert open_dataset(tmp_path / "sc", "test").labels.tolist() == [0]

    evil = _tar({"../escape.txt": b"x"})
    h.files["speech_commands_v0.02.tar.gz"] = evil
    with pytest.raises(FormatError, match="unsafe archive member"):
        download_dataset("sc", tmp_path / "sc2", base_url=url, progress=False,
                         checksums={"speech_commands_v0.02.tar.gz": ("sha256", hashlib.sha256(evil).hexdigest())})
    assert not (tmp_path / "escape.txt").exists()


def test_parse_checksum_list():
    text = "d41d8cd98f00b204e9800998ecf8427e  shd_train.h5.gz\nD41D8CD98F00B204E9800998ECF8427F *sub/ssc_test.h5.gz\n"
    assert parse_checksum_list(text, "x") == {
        "shd_train.h5.gz": "d41d8cd98f00b204e9800998ecf8427e", "ssc_test.h5.gz": "d41d8cd98f00b204e9800998ecf8427f"}
    with pytest.raises(FormatError, match="x:1"):
        parse_checksum_list("not a checksum line", "x")
