"""Any cloud's GPU pools and the pod spec: presets expanded into node labels, secrets as
environment, image pull secrets and a timeout compiled into every task, shown by
`submit --dry-run`, and bad values refused all at once before anything is compiled."""

from pathlib import Path

import pytest
import yaml

from fgsgl import cluster, settings
from fgsgl.cli import main
from fgsgl.errors import FgsglError

TOLERATE_GPU = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("preset", "label", "value"),
    [
        ("gke:nvidia-l4", "cloud.google.com/gke-accelerator", "nvidia-l4"),
        ("eks:g6.xlarge", "node.kubernetes.io/instance-type", "g6.xlarge"),
        ("karpenter:a100", "karpenter.k8s.aws/instance-gpu-name", "a100"),
        (
            "aks:Standard_NC24ads_A100_v4",
            "node.kubernetes.io/instance-type",
            "Standard_NC24ads_A100_v4",
        ),
        ("nvidia:NVIDIA-L4", "nvidia.com/gpu.product", "NVIDIA-L4"),
    ],
)
def test_a_gpu_pool_preset_becomes_node_labels(preset: str, label: str, value: str) -> None:
    values = settings.read([f"resources.gpu_pool={preset}"])
    assert values["resources.node_selector"] == {label: value}
    tolerations = values["resources.tolerations"]
    assert tolerations[0] == TOLERATE_GPU
    if preset.startswith("aks:"):  # AKS's documented GPU pool taint
        assert tolerations[1:] == [
            {"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
        ]
    else:
        assert tolerations == [TOLERATE_GPU]
    params = settings.as_parameters(values)
    assert params["gpu_node_selector"] == {label: value} and "gpu_pool" not in params


def test_no_cloud_is_the_default_and_explicit_labels_win() -> None:
    assert settings.BY_KEY["resources.node_selector"].default == {}
    assert settings.read([]) == {}
    values = settings.read(
        ["resources.gpu_pool=gke:nvidia-l4"],
        values={"resources.node_selector": {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb",
                                            "cloud.google.com/gke-spot": "true"}},
    )  # fmt: skip
    assert values["resources.node_selector"] == {
        "cloud.google.com/gke-accelerator": "nvidia-h100-80gb",
        "cloud.google.com/gke-spot": "true",
    }


def test_bad_cluster_settings_are_listed_at_once() -> None:
    items = [
        "resources.gpu_pool=gcp:l4",
        "resources.gpu_pool=eks",
        "cluster.timeout=soon",
        "cluster.secret_env={HF_TOKEN: hf-token, 9X: a/b}",
        "cluster.env={AWS-ENDPOINT: x}",
    ]
    with pytest.raises(FgsglError) as e:
        settings.read(items)
    assert e.value.problems == [
        "--set: resources.gpu_pool: 'gcp:l4' is no GPU pool preset "
        "(presets: gke:..., eks:..., karpenter:..., aks:..., nvidia:...)",
        "--set: resources.gpu_pool: 'eks': say which, eks:VALUE with VALUE an EC2 instance "
        "type, e.g. g6.xlarge",
        "--set: cluster.timeout: 'soon' is not a duration like 90m, 12h or 2d (0 = none)",
        "--set: cluster.secret_env: HF_TOKEN: 'hf-token' should be SECRET/KEY, e.g. "
        "hf-token/token; '9X' is not an environment variable name",
        "--set: cluster.env: 'AWS-ENDPOINT' is not an environment variable name",
    ]


def test_pod_spec_values_must_be_text() -> None:
    """Found by tests/test_fuzz_configs.py: str() made an unquoted YAML `yes` 'True' and
    `null` 'None', and a node selector or toleration of another shape reached Kubernetes."""
    items = [
        "resources.node_selector={pool: 1, zone: yes}",
        "resources.tolerations=[{key: a, operator: Exists}, 1]",
        "cluster.env={DEBUG: yes}",
        "cluster.image_pull_secrets=[regcred, null]",
    ]
    with pytest.raises(FgsglError) as e:
        settings.read(items)
    assert e.value.problems == [
        "--set: resources.node_selector: pool: 1 is not a string (quote it in YAML); "
        "zone: True is not a string (quote it in YAML)",
        "--set: resources.tolerations: 1 is not a toleration (effect, key, operator, "
        "tolerationSeconds, value)",
        "--set: cluster.env: DEBUG: True is not a string (quote it in YAML)",
        "--set: cluster.image_pull_secrets: None is not a secret name",
    ]
    quoted = ["resources.node_selector={pool: '1'}", "cluster.env={DEBUG: 'yes'}"]
    assert settings.read(quoted)["cluster.env"] == {"DEBUG": "yes"}


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", 0), ("90", 90), ("90m", 5400), ("12h", 43200), ("1.5d", 129600)]
)
def test_durations(text: str, seconds: int) -> None:
    assert cluster.duration_seconds(text) == seconds


def test_the_pod_spec_is_compiled_into_every_task(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(
        "resources: {gpu_pool: 'eks:g6.12xlarge', gpus: 4}\n"
        "cluster:\n"
        "  env: {AWS_ENDPOINT_URL: 'http://minio-service.kubeflow:9000'}\n"
        "  secret_env: {HF_TOKEN: hf-token/token, AWS_ACCESS_KEY_ID: s3-creds/id,\n"
        "               AWS_SECRET_ACCESS_KEY: s3-creds/secret}\n"
        "  image_pull_secrets: [regcred]\n"
        "  timeout: 12h\n"
    )
    out = tmp_path / "out"
    assert main(["compile", "--variant", "full", "--out", str(out), "--config", str(config)]) == 0
    spec, platform = yaml.safe_load_all((out / "fgsgl-full.yaml").read_text())
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["gpu_node_selector"]["defaultValue"] == {
        "node.kubernetes.io/instance-type": "g6.12xlarge"
    }
    assert params["gpus"]["defaultValue"] == 4
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])  # every task
    containers = spec["deploymentSpec"]["executors"]
    for name, executor in executors.items():
        env = containers[name]["container"]["env"]
        assert env == [{"name": "AWS_ENDPOINT_URL", "value": "http://minio-service.kubeflow:9000"}]
        assert executor["activeDeadlineSeconds"] == "43200", name
        assert [s["secretName"] for s in executor["imagePullSecret"]] == ["regcred"], name
        env = {
            e["envVar"]: (s["secretName"], e["secretKey"])
            for s in executor["secretAsEnv"]
            for e in s["keyToEnv"]
        }
        assert env == {
            "AWS_ACCESS_KEY_ID": ("s3-creds", "id"),
            "AWS_SECRET_ACCESS_KEY": ("s3-creds", "secret"),
            "HF_TOKEN": ("hf-token", "token"),
        }, name
    plain = tmp_path / "plain"
    assert main(["compile", "--variant", "full", "--out", str(plain)]) == 0
    _, platform = yaml.safe_load_all((plain / "fgsgl-full.yaml").read_text())
    for executor in platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
        assert not {"activeDeadlineSeconds", "imagePullSecret", "secretAsEnv"} & set(executor)
    spec, _ = yaml.safe_load_all((plain / "fgsgl-full.yaml").read_text())
    assert not any("env" in e["container"] for e in spec["deploymentSpec"]["executors"].values())


def test_dry_run_prints_the_gpu_pool_and_the_pod_spec(tmp_path: Path, capsys) -> None:
    from fgsgl.synth import SynthConfig
    from fgsgl.synth.generate import generate

    ds = tmp_path / "ds"
    generate(ds, SynthConfig(classes=2, clips_per_class=3, subjects=3, size=32, frames=8),
             workers=1, progress=False)  # fmt: skip
    sets = [
        "--set=resources.gpu_pool=aks:Standard_NC24ads_A100_v4",
        "--set=cluster.secret_env={HF_TOKEN: hf-token/token}",
        "--set=cluster.image_pull_secrets=[regcred, mirror]",
        "--set=cluster.timeout=90m",
    ]
    assert main(["submit", "--dataset", str(ds), "--dry-run", *sets]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        'GPU pods: 1 x nvidia.com/gpu, node selector {"node.kubernetes.io/instance-type": '
        '"Standard_NC24ads_A100_v4"}'
    ) in lines
    assert (
        '  tolerations [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}, '
        '{"key": "sku", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]'
    ) in lines
    assert "every pod: env: none" in lines
    assert "every pod: secrets as env: HF_TOKEN <- secret hf-token key token" in lines
    assert "every pod: image pull secrets: regcred, mirror" in lines
    assert "every pod: timeout per task: 5400 s (1.5 h)" in lines
