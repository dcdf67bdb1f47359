"""`fgsgl submit` against a local HTTP server that answers the KFP v2beta1 REST paths the
kfp client uses; the test checks what was sent. And `--dry-run`, which sends nothing."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from dataset_helpers import planning_dataset

from fgsgl import __version__
from fgsgl.cli import main

TOKEN = "s3cret-token-value"
VARIANTS = ["full", "no_fg_sa", "no_cp_a", "no_ml_co", "class_text", "clip_mg"]
ONE_STAGE = {"no_ml_co", "clip_mg"}


class FakeKfp:
    """The KFP API server, as far as `kfp.Client` goes for upload, experiments and runs."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.experiments: list[dict[str, Any]] = []
        self.pipelines: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.uploads: list[bytes] = []

    def handle(self, method: str, path: str, query: dict, headers: Any, body: bytes) -> Any:
        self.requests.append(
            {"method": method, "path": path, "query": query, "headers": dict(headers)}
        )
        parts = path.strip("/").split("/")
        if parts[:2] != ["apis", "v2beta1"]:
            return 404, {"error": f"unknown path {path}"}
        parts = parts[2:]
        name = _filter_name(query)
        if parts == ["healthz"]:
            return 200, {"multi_user": False}
        if parts == ["experiments"] and method == "GET":
            found = [e for e in self.experiments if e["display_name"] == name]
            return 200, {"experiments": found, "total_size": len(found)} if found else {}
        if parts == ["experiments"] and method == "POST":
            exp = {**json.loads(body), "experiment_id": f"exp-{len(self.experiments) + 1}"}
            self.experiments.append(exp)
            return 200, exp
        if parts == ["pipelines"] and method == "GET":
            found = [p for p in self.pipelines if p["display_name"] == name]
            return 200, {"pipelines": found, "total_size": len(found)} if found else {}
        if parts == ["pipelines", "upload"]:
            self.uploads.append(_file_field(headers, body))
            pipe = {"pipeline_id": str(uuid.uuid4()), "display_name": query["name"][0]}
            self.pipelines.append(pipe)
            self.versions.append(
                {
                    "pipeline_id": pipe["pipeline_id"],
                    "pipeline_version_id": str(uuid.uuid4()),
                    "display_name": pipe["display_name"],
                }
            )
            return 200, pipe
        if len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "versions":
            found = [
                v
                for v in self.versions
                if v["pipeline_id"] == parts[1] and (name is None or v["display_name"] == name)
            ]
            return 200, {"pipeline_versions": found, "total_size": len(found)} if found else {}
        if parts == ["pipelines", "upload_version"]:
            self.uploads.append(_file_field(headers, body))
            version = {
                "pipeline_id": query["pipelineid"][0],
                "pipeline_version_id": str(uuid.uuid4()),
                "display_name": query["name"][0],
            }
            self.versions.append(version)
            return 200, version
        if parts == ["runs"] and method == "POST":
            run = {**json.loads(body), "run_id": f"run-{len(self.runs) + 1}", "state": "PENDING"}
            self.runs.append(run)
            return 200, run
        return 404, {"error": f"unhandled {method} {path}"}


def _filter_name(query: dict) -> str | None:
    if "filter" not in query:
        return None
    predicates = json.loads(query["filter"][0])["predicates"]
    return next(p["string_value"] if "string_value" in p else p["stringValue"] for p in predicates)


def _file_field(headers: Any, body: bytes) -> bytes:
    """The uploaded file of a multipart/form-data request."""
    head = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts = [
        p
        for p in message.iter_parts()
        if p.get_param("name", header="content-disposition") == "uploadfile"
    ]
    assert len(parts) == 1
    return parts[0].get_payload(decode=True)


@pytest.fixture
def kfp_server() -> Iterator[tuple[str, FakeKfp]]:
    fake = FakeKfp()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            code, payload = fake.handle(
                self.command, url.path, parse_qs(url.query), self.headers, body
            )
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A valid dataset directory with keypoints (clip_mg reads them); submit only reads its
    tables and file stats."""
    return planning_dataset(tmp_path / "ds")


@pytest.fixture(autouse=True)
def no_kfp_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kfp client reads and may write ~/.config/kfp/context.json: keep it in tmp."""
    import kfp.client.client as kfp_client

    monkeypatch.setattr(kfp_client.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "ctx.json"))
    monkeypatch.delenv("KF_PIPELINES_ENDPOINT", raising=False)
    monkeypatch.delenv("KF_PIPELINES_TOKEN", raising=False)


def test_submit_creates_one_run_per_variant_in_one_experiment(
    kfp_server: tuple[str, FakeKfp],
    dataset: Path,
    capsys: pytest.CaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, fake = kfp_server
    monkeypatch.setenv("KF_PIPELINES_TOKEN", TOKEN)
    args = ["submit", "--host", host, "--experiment", "ablations", "--variant", "all"]
    args += ["--dataset", str(dataset), "--set", "stage2.epochs=2", "--set", "gpus=2"]
    assert main(args) == 0
    out = capsys.readouterr()

    # one experiment, one pipeline with one uploaded version of our own name, six runs
    assert [e["display_name"] for e in fake.experiments] == ["ablations"]
    assert [p["display_name"] for p in fake.pipelines] == ["fgsgl"]
    ours = fake.versions[-1]
    assert ours["display_name"].startswith(f"fgsgl-{__version__}-")
    assert [r["display_name"] for r in fake.runs] == VARIANTS
    from fgsgl.dataset import load_dataset

    fingerprint = load_dataset(dataset).fingerprint(videos=True)
    for run, variant in zip(fake.runs, VARIANTS, strict=True):
        assert run["experiment_id"] == "exp-1"
        assert run["pipeline_version_reference"] == {
            "pipeline_id": ours["pipeline_id"],
            "pipeline_version_id": ours["pipeline_version_id"],
        }
        params = run["runtime_config"]["parameters"]
        assert params["variant"] == variant
        assert params["dataset"] == str(dataset)
        assert params["dataset_fingerprint"] == fingerprint
        assert params["stage2_epochs"] == 2 and params["gpus"] == 2
        assert params["ml_co"] is (variant not in ONE_STAGE)
        assert params["family"] == ("clip_mg" if variant == "clip_mg" else "fgsgl")
        assert params["text_granularity"] == ("class" if variant == "class_text" else "fine")
        assert params["gpu_node_selector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    # the uploaded YAML is the compiled pipeline, and holds no secret
    for upload in fake.uploads:
        spec = next(yaml.safe_load_all(upload))
        assert spec["pipelineInfo"]["name"] == "fgsgl"
        assert "stage2_epochs" in spec["root"]["inputDefinitions"]["parameters"]
        assert TOKEN.encode() not in upload
    # the token went as a bearer header, and nowhere else
    sent = {
        v for r in fake.requests for k, v in r["headers"].items() if k.lower() == "authorization"
    }
    assert sent == {f"Bearer {TOKEN}"} and all(len(r["headers"]) for r in fake.requests)
    assert TOKEN not in out.out + out.err
    # the links name the runs
    for i, variant in enumerate(VARIANTS, 1):
        line = rf"^{variant}\s+run-{i}\s+{re.escape(host)}/#/runs/details/run-{i}$"
        assert re.search(line, out.out, re.MULTILINE)


def test_a_second_submit_reuses_experiment_and_pipeline_version(
    kfp_server: tuple[str, FakeKfp], dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    host, fake = kfp_server
    args = ["submit", "--host", host, "--namespace", "team-a", "--dataset", str(dataset)]
    assert main([*args, "--seeds", "0,1"]) == 0
    uploads = len(fake.uploads)
    assert main([*args, "--variant", "no_cp_a"]) == 0
    assert len(fake.uploads) == uploads  # same pipeline: its version is reused
    assert len(fake.experiments) == 1
    assert [r["display_name"] for r in fake.runs] == ["full-seed0", "full-seed1", "no_cp_a"]
    assert [r["runtime_config"]["parameters"]["seed"] for r in fake.runs] == [0, 1, 0]
    assert fake.experiments[0]["namespace"] == "team-a"
    lists = [
        r for r in fake.requests if r["path"].endswith("/experiments") and r["method"] == "GET"
    ]
    assert all(r["query"]["namespace"] == ["team-a"] for r in lists)
    assert not any(r["path"].endswith("/healthz") for r in fake.requests)


def test_dry_run_prints_the_runs_and_sends_nothing(
    dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    args = ["submit", "--host", "http://127.0.0.1:9", "--dataset", str(dataset), "--dry-run"]
    assert main([*args, "--variant", "all", "--seeds", "0,1", "--set", "lr=1"]) == 1
    assert "unknown setting 'lr'" in capsys.readouterr().err
    assert main([*args, "--variant", "no_fg_sa,class_text", "--seeds", "0,1"]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing sent to http://127.0.0.1:9" in out
    assert "4 run(s), each with the pipeline's defaults except:" in out
    assert f"dataset {dataset} (fingerprint " in out
    lines = [line.strip() for line in out.splitlines()]
    assert "no_fg_sa-seed0: variant=no_fg_sa seed=0 fg_sa=false" in lines
    assert "no_fg_sa-seed1: variant=no_fg_sa seed=1 fg_sa=false" in lines
    assert 'class_text-seed0: variant=class_text seed=0 text_granularity="class"' in lines
    assert 'class_text-seed1: variant=class_text seed=1 text_granularity="class"' in lines


def test_an_unreachable_server_is_one_clear_error(
    dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    code = main(["submit", "--host", "http://127.0.0.1:9", "--dataset", str(dataset)])
    err = capsys.readouterr().err
    assert code == 1
    assert "http://127.0.0.1:9" in err
    assert "Traceback" not in err
