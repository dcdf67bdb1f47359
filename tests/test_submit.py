"""`fgsgl submit` against a local HTTP server that answers the KFP v2beta1 REST paths the
kfp client uses and checks what the real API server checks; the tests check what was sent.
And `--dry-run`, which sends nothing."""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dataset_helpers import planning_dataset
from kfp_server import FakeKfp, serve

from fgsgl import __version__
from fgsgl.cli import main

TOKEN = "s3cret-token-value"
VARIANTS = ["full", "no_fg_sa", "no_cp_a", "no_ml_co", "class_text", "clip_mg"]
ONE_STAGE = {"no_ml_co", "clip_mg"}


@pytest.fixture
def kfp_server() -> Iterator[tuple[str, FakeKfp]]:
    fake = FakeKfp()
    with serve(fake) as host:
        yield host, fake


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
    fake.token = TOKEN  # behind Kubeflow's auth: a call without the bearer token is a 401
    monkeypatch.setenv("KF_PIPELINES_TOKEN", TOKEN)
    args = ["submit", "--host", host, "--experiment", "ablations", "--variant", "all"]
    args += ["--dataset", str(dataset), "--set", "stage2.epochs=2", "--set", "gpus=2"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert fake.refusals == []

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
        assert params["gpu_node_selector"] == {}  # no cloud's labels unless asked for
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
    assert (main([*args, "--variant", "no_cp_a"]), capsys.readouterr().err) == (0, "")
    assert fake.refusals == []
    assert len(fake.pipelines) == 1 and fake.pipelines[0]["namespace"] == "team-a"
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
    assert "caching: on (a task whose inputs are unchanged reuses its cached outputs)" in out
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


def _submit(*args: str) -> tuple[int, str]:
    """main's exit code and stderr (less the log lines, `[fgsgl] ...`, where logging writes
    there), for asserts that show the error when one fails."""
    import io
    from contextlib import redirect_stderr

    err = io.StringIO()
    with redirect_stderr(err):
        code = main(["submit", *args])
    lines = err.getvalue().splitlines(keepends=True)
    return code, "".join(line for line in lines if not line.startswith("[fgsgl] "))


def test_each_namespace_keeps_its_own_pipeline_and_experiment(
    kfp_server: tuple[str, FakeKfp], dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    """A private pipeline is found in its namespace: a second submit there reuses it (the
    lookup of kfp.Client.get_pipeline_id sees only the shared list, uploads again and gets a
    409), another namespace and the shared list get their own."""
    host, fake = kfp_server
    base = ["--host", host, "--dataset", str(dataset)]
    assert _submit(*base, "--namespace", "team-a") == (0, "")
    assert _submit(*base, "--namespace", "team-a", "--variant", "no_cp_a") == (0, "")
    assert _submit(*base, "--namespace", "team-b", "--variant", "no_fg_sa") == (0, "")
    assert _submit(*base, "--variant", "class_text") == (0, "")  # the shared list
    assert _submit(*base, "--namespace", "team-a", "--no-cache", "--variant", "no_ml_co") == (
        0,
        "",
    )
    assert fake.refusals == []

    pipelines = {p["namespace"]: p for p in fake.pipelines}
    assert sorted(pipelines) == ["", "team-a", "team-b"]
    assert {p["display_name"] for p in fake.pipelines} == {"fgsgl"}
    experiments = {e["namespace"]: e["experiment_id"] for e in fake.experiments}
    assert sorted(experiments) == ["", "team-a", "team-b"] and len(fake.experiments) == 3
    # every run uses the pipeline of its experiment's namespace
    where = {"full": "team-a", "no_cp_a": "team-a", "no_fg_sa": "team-b"}
    where |= {"class_text": "", "no_ml_co": "team-a"}
    assert [r["display_name"] for r in fake.runs] == list(where)
    for run in fake.runs:
        namespace = where[run["display_name"]]
        assert run["experiment_id"] == experiments[namespace]
        ref = run["pipeline_version_reference"]
        assert ref["pipeline_id"] == pipelines[namespace]["pipeline_id"]
    # team-a's pipeline: the server's first version, ours, and ours without caching
    team_a = [v["display_name"] for v in fake.versions if v["pipeline_id"] == ref["pipeline_id"]]
    assert team_a[0] == "fgsgl" and len(team_a) == 3
    assert team_a[1].startswith(f"fgsgl-{__version__}-") and "nocache" not in team_a[1]
    assert team_a[2].startswith(f"fgsgl-{__version__}-nocache-")
    assert fake.runs[0]["pipeline_version_reference"] == fake.runs[1]["pipeline_version_reference"]
    # the pipeline lookups asked in the namespace (none without one: the shared list)
    lookups = [
        r["query"].get("namespace") for r in fake.requests if r["path"].endswith("/pipelines")
    ]
    assert lookups == [["team-a"], ["team-a"], ["team-b"], None, ["team-a"]]


def test_no_cache_runs_execute_every_task(
    kfp_server: tuple[str, FakeKfp], dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    """What reaches the server: the run references a version whose every executed task,
    inside the ML-CO condition too (train-stage1), has caching off; without --no-cache
    every task may come from the cache."""
    host, fake = kfp_server
    base = ["--host", host, "--dataset", str(dataset), "--variant", "full"]
    code, err = _submit(*base, "--no-cache", "--dry-run")
    out = capsys.readouterr().out
    assert (code, err) == (0, "") and fake.requests == []
    assert "caching: off (--no-cache: every task executes; the version has caching off)" in out
    assert re.search(rf"version 'fgsgl-{re.escape(__version__)}-nocache-[0-9a-f]{{10}}'", out)

    assert _submit(*base, "--no-cache") == (0, "")
    assert "caching: off" in capsys.readouterr().out
    assert _submit(*base) == (0, "")
    assert fake.refusals == []
    no_cache, cached = fake.runs
    assert "pipeline_spec" not in no_cache  # a run of an uploaded version, not an inline spec
    off = fake.task_caching(no_cache)
    assert {"extract-frames", "train-stage1", "train-stage2", "evaluate"} <= set(off)
    assert set(off.values()) == {False}
    on = fake.task_caching(cached)
    assert set(on) == set(off) and set(on.values()) == {True}
    # the two versions differ only there
    ref_off = no_cache["pipeline_version_reference"]["pipeline_version_id"]
    ref_on = cached["pipeline_version_reference"]["pipeline_version_id"]
    assert ref_off != ref_on
    a, b = fake.specs[ref_off], fake.specs[ref_on]
    for spec in (a, b):
        for dag in [spec.root.dag] + [c.dag for c in spec.components.values()]:
            for task in dag.tasks.values():
                task.ClearField("caching_options")
    assert a == b


def test_without_credentials_the_refusal_is_one_clear_error(
    kfp_server: tuple[str, FakeKfp], dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, fake = kfp_server
    fake.token = TOKEN
    code, err = _submit("--host", host, "--dataset", str(dataset), "--namespace", "team-a")
    assert code == 1 and "Traceback" not in err
    assert f"submit to {host} failed: HTTP 401 Unauthorized: " in err
    assert "no bearer token" in err and "KF_PIPELINES_TOKEN" in err
    assert fake.experiments == fake.pipelines == fake.runs == []
    monkeypatch.setenv("KF_PIPELINES_TOKEN", "not-the-token")
    code, err = _submit("--host", host, "--dataset", str(dataset), "--namespace", "team-a")
    assert code == 1 and "the bearer token is not valid" in err and "not-the-token" not in err


def test_cookies_go_to_every_call(
    kfp_server: tuple[str, FakeKfp], dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    host, fake = kfp_server
    cookie = "authservice_session=MTcwMDAwMDAwMHxzZXNzaW9u"
    code, err = _submit("--host", host, "--dataset", str(dataset), "--cookies", cookie)
    out = capsys.readouterr().out
    assert (code, err) == (0, "") and len(fake.runs) == 1
    sent = [r["headers"].get("Cookie") for r in fake.requests]
    assert len(sent) > 3 and set(sent) == {cookie}
    assert "MTcwMDAwMDAwMHxzZXNzaW9u" not in out


def test_a_missing_or_bad_ca_bundle_is_refused_before_any_request(
    kfp_server: tuple[str, FakeKfp], dataset: Path, tmp_path: Path
) -> None:
    host, fake = kfp_server
    base = ["--host", host, "--dataset", str(dataset)]
    missing = tmp_path / "no-such" / "ca.pem"
    assert _submit(*base, "--ssl-ca-cert", str(missing)) == (
        1,
        f"fgsgl submit: error: --ssl-ca-cert {missing}: no such file\n",
    )
    assert _submit(*base, "--ssl-ca-cert", str(missing), "--dry-run")[0] == 1
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    code, err = _submit(*base, "--ssl-ca-cert", str(not_pem))
    assert code == 1 and f"--ssl-ca-cert {not_pem}: not a PEM CA certificate bundle" in err
    assert fake.requests == []


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A CA certificate for 127.0.0.1 and its key (PEM files), made here."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fgsgl test KFP")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "ca.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_a_private_ca_verifies_the_server(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    cert, key = _self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    fake = FakeKfp()
    with serve(fake, tls) as host:
        base = ["--host", host, "--dataset", str(dataset), "--namespace", "team-a"]
        code, err = _submit(*base)
        assert code == 1 and "CERTIFICATE_VERIFY_FAILED" in err and "Traceback" not in err
        assert fake.requests == []
        assert _submit(*base, "--ssl-ca-cert", str(cert)) == (0, "")
    assert len(fake.runs) == 1 and fake.refusals == []
    assert f"{host}/#/runs/details/run-1" in capsys.readouterr().out


def _post(host: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{host}/apis/v2beta1/{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_fake_server_refuses_what_the_api_refuses(kfp_server: tuple[str, FakeKfp]) -> None:
    """The checks the tests above rely on: the schema of the bodies, names, namespaces."""
    host, fake = kfp_server
    assert _post(host, "experiments", {"display_name": "e", "namespace": "team-a"})[0] == 200
    code, said = _post(host, "experiments", {"display_name": "e", "namespace": "team-a"})
    assert (code, said["code"]) == (409, 6)
    assert _post(host, "experiments", {"display_name": "e", "namespace": "team-b"})[0] == 200
    code, said = _post(host, "experiments", {"display_name": "x", "enable_caching": False})
    assert code == 400 and "unknown field 'enable_caching'" in said["message"]
    code, said = _post(host, "experiments", {"display_name": 5})
    assert code == 400 and "V2beta1Experiment.display_name: str expected" in said["message"]
    run = {"display_name": "r", "experiment_id": "exp-1", "pipeline_version_reference": {}}
    code, said = _post(host, "runs", {**run, "runtime_config": {"parameters": [1]}})
    assert code == 400 and "runtime_config.parameters: an object expected" in said["message"]
    code, said = _post(host, "runs", {**run, "state": "DONE"})
    assert code == 400 and "'DONE' is not one of" in said["message"]
    assert _post(host, "runs", run)[0] == 404  # no such pipeline
    with urllib.request.urlopen(f"{host}/apis/v2beta1/experiments?namespace=team-a") as answer:
        assert [e["namespace"] for e in json.loads(answer.read())["experiments"]] == ["team-a"]
    with urllib.request.urlopen(f"{host}/apis/v2beta1/experiments") as answer:
        assert json.loads(answer.read()) == {}  # the shared list: neither private one
    fake.token = TOKEN
    assert _post(host, "experiments", {"display_name": "y"})[0] == 401
    assert fake.runs == [] and len(fake.experiments) == 2


def test_the_batch_prediction_pipeline_is_its_own_pipeline(
    kfp_server: tuple[str, FakeKfp], dataset: Path, capsys: pytest.CaptureFixture
) -> None:
    """`submit --pipeline predict`: pipeline fgsgl-predict beside fgsgl, one run whose
    parameters (checked by the fake against the uploaded spec) say what to predict."""
    host, fake = kfp_server
    assert main(["submit", "--host", host, "--dataset", str(dataset)]) == 0
    sets = [
        "--set=model_uri=s3://bucket/runs/full/train-stage2/model",
        "--set=inputs=s3://bucket/interviews",
        "--set=windows=2s:0.5s",
        "--set=threshold=0.6",
        "--set=resources.gpu_pool=gke:nvidia-l4",
    ]
    assert main(["submit", "--host", host, "--pipeline", "predict", *sets]) == 0
    assert fake.refusals == []
    assert sorted(p["display_name"] for p in fake.pipelines) == ["fgsgl", "fgsgl-predict"]
    run = fake.runs[-1]
    assert run["display_name"] == "predict"
    params = run["runtime_config"]["parameters"]
    assert params["model_uri"] == "s3://bucket/runs/full/train-stage2/model"
    assert (params["inputs"], params["windows"], params["threshold"]) == (
        "s3://bucket/interviews", "2s:0.5s", 0.6,
    )  # fmt: skip
    assert params["gpu_node_selector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert "pipeline 'fgsgl-predict' version 'fgsgl-predict-" in capsys.readouterr().out
    code = main(["submit", "--host", host, "--pipeline", "predict", "--set=windows=8:2"])
    assert code == 2
    assert "give model_uri, inputs" in capsys.readouterr().err
