"""`fgsgl compile`, `run-local`, `submit`, `rerun`: the Kubeflow pipeline from the command line.

KFP is imported only inside the handlers (fgsgl.pipelines), so `fgsgl --help` stays fast.
"""

from __future__ import annotations

import argparse
import sys

SETTINGS_HELP = """\
Run parameters: --config FILE (YAML: parameter names or training config keys, sections may
nest) then --set KEY=VALUE (repeatable); KEY is a pipeline parameter (stage2_epochs,
num_frames, gpus) or a training config key (stage2.epochs). The variants of
pipelines/variants.yaml are FG-SGL's five (full, no_fg_sa, no_cp_a, no_ml_co, class_text)
and the CLIP-MG baseline, clip_mg (it needs a dataset with keypoints)."""

COMPILE_HELP = f"""\
Write one pipeline YAML per variant (DIR/fgsgl-VARIANT.yaml) whose parameter defaults are
the variant's, ready to upload in the KFP UI or to load back with kfp. Images, the
extraction fan-out and which steps run on GPUs are fixed here; everything else stays a run
parameter.

{SETTINGS_HELP}"""

RUN_LOCAL_HELP = f"""\
Run the pipeline on this machine under kfp.local (a subprocess of this Python per task),
one run per variant, with local caching: a second identical run executes nothing, and a
changed parameter reruns only the steps that read it. Prints every task (executed or from
the cache, its time, where its outputs are), then the metrics per run, and writes a
comparison (fgsgl compare) when there are several runs. Everything lands under --root:
cache/, runs/RUN/, logs/RUN.log, compare/, summary.json; temp folders go to ROOT/tmp.

{SETTINGS_HELP}"""

SUBMIT_HELP = f"""\
Upload the pipeline to Kubeflow Pipelines (pipeline "fgsgl", a version per content) and
create one run per variant (and seed), named after it, in one experiment; prints the run
links. Authentication is the KFP client's: KF_PIPELINES_TOKEN (a bearer token) or
--cookies when set, else the client's own means (IAP/OAuth environment,
~/.config/kfp/context.json cookies, in-cluster credentials, or the kube config when no
--host is given). Nothing secret is printed or written into the pipeline YAML.

{SETTINGS_HELP}"""

RERUN_HELP = """\
Run one step again, locally, on the artifacts an earlier local run produced (its run.json
records every task's inputs): e.g. `fgsgl rerun evaluate --from runs/runs/full --set
evaluate.split=val`. STEP: extract-frames, merge-frames, encode-text, train-stage1,
train-stage2, evaluate. --from is a run folder (ROOT/runs/RUN, or one attempt below it) or a
run-local root with one run. Outputs go to ROOT/reruns/RUN/."""


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "compile",
        help="write the pipeline YAML of each variant",
        description=COMPILE_HELP,
        formatter_class=fmt,
    )
    _pipeline_option(p)
    _variant_options(p)
    _build_options(p)
    p.add_argument(
        "--out",
        metavar="DIR",
        default="build/pipelines",
        help="output folder (default: %(default)s)",
    )
    p.add_argument(
        "--dataset",
        metavar="DIR_OR_URI",
        help="also make this dataset (and its fingerprint) the default",
    )
    p.set_defaults(func=run_compile)

    p = sub.add_parser(
        "run-local",
        help="run the pipeline on this machine (kfp.local, cached)",
        description=RUN_LOCAL_HELP,
        formatter_class=fmt,
    )
    p.add_argument("--dataset", metavar="DIR", required=True, help="dataset directory")
    _variant_options(p)
    p.add_argument(
        "--root",
        metavar="DIR",
        default="runs",
        help="where cache, outputs and logs go (default: %(default)s)",
    )
    p.add_argument("--no-cache", action="store_true", help="execute every task (and cache nothing)")
    p.add_argument(
        "--show-logs",
        action="store_true",
        help="also stream the tasks' own output (always in ROOT/logs/)",
    )
    p.add_argument(
        "--extract-shards",
        type=int,
        default=1,
        metavar="N",
        help="fan extraction out over N shard tasks, then merge (default: 1)",
    )
    p.set_defaults(func=run_run_local)

    p = sub.add_parser(
        "submit",
        help="create one Kubeflow run per variant",
        description=SUBMIT_HELP,
        formatter_class=fmt,
    )
    p.add_argument(
        "--host",
        metavar="URL",
        help="KFP API endpoint (default: $KF_PIPELINES_ENDPOINT, else the kube config)",
    )
    p.add_argument("--namespace", metavar="NS", help="Kubeflow profile namespace (multi-user)")
    p.add_argument(
        "--experiment",
        metavar="NAME",
        default="fgsgl",
        help="experiment to put the runs in (default: %(default)s)",
    )
    p.add_argument(
        "--dataset",
        metavar="URI",
        help="the dataset directory as the pods see it (gs://..., s3://... or a mounted path); "
        "its fingerprint is computed here (required for the training pipeline)",
    )
    _pipeline_option(p)
    _variant_options(p)
    _build_options(p)
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="execute every task of these runs (they use a pipeline version with caching off)",
    )
    p.add_argument(
        "--ssl-ca-cert",
        metavar="PEM",
        help="CA bundle to verify the server's TLS certificate (a private or self-signed CA)",
    )
    p.add_argument(
        "--cookies",
        metavar="COOKIES",
        help='Cookie header for the API, e.g. "authservice_session=..." of a Dex login '
        "(default: the kfp context's); it is a credential: visible in the process list",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the runs it would create; send nothing"
    )
    p.set_defaults(func=run_submit)

    p = sub.add_parser(
        "rerun",
        help="run one step of an earlier local run again",
        description=RERUN_HELP,
        formatter_class=fmt,
    )
    p.add_argument("step", metavar="STEP", help="the step to run again, e.g. evaluate")
    p.add_argument(
        "--from", dest="run_dir", metavar="RUN_DIR", required=True, help="the earlier run's folder"
    )
    p.add_argument(
        "--set",
        dest="settings",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="change one of the step's settings, e.g. evaluate.split=val (repeatable)",
    )
    p.add_argument(
        "--config", metavar="FILE|NAME", help="YAML of setting changes (or a shipped name)"
    )
    p.add_argument("--show-logs", action="store_true", help="also stream the task's own output")
    p.set_defaults(func=run_rerun)


def _pipeline_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pipeline",
        choices=("train", "predict"),
        default="train",
        help="train: the FG-SGL pipeline of the variants (default); predict: batch "
        "prediction with a trained model, its arguments as --set NAME=VALUE (model_uri, "
        "inputs, windows, threshold, score, ...; see fgsgl.pipelines.predict)",
    )


def _variant_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--variant",
        metavar="NAME|all",
        default="full",
        help="a variant of pipelines/variants.yaml, several joined by commas, or all "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--seeds",
        metavar="S,S,...",
        help="one run per seed (runs named VARIANT-seedN); extraction and text encoding are shared",
    )
    p.add_argument(
        "--config",
        metavar="FILE|NAME",
        help="YAML of settings, or a shipped one by name: cpu-tiny (laptop runs), "
        "cpu-compositional (the compositional SynthMG study), cpu-compositional-pretrained "
        "(the same on the pretrained tower of `make pretrained`, LoRA), paper-smg, paper-imigue",
    )
    p.add_argument(
        "--set",
        dest="settings",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="set one setting by its dotted key, e.g. stage1.lr=4e-5 or "
        "resources.gpus=2 (repeatable; `fgsgl settings` lists them)",
    )


def _build_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--cpu-image",
        metavar="IMAGE",
        help="image of the CPU steps (default: $FGSGL_CPU_IMAGE or fgsgl-cpu:VERSION)",
    )
    p.add_argument(
        "--gpu-image",
        metavar="IMAGE",
        help="image of the GPU steps (default: $FGSGL_GPU_IMAGE or fgsgl-gpu:VERSION)",
    )
    p.add_argument(
        "--extract-shards",
        type=int,
        default=1,
        metavar="N",
        help="fan extraction out over N shard tasks, then merge (default: 1)",
    )
    p.add_argument(
        "--gpu-steps",
        metavar="STEPS",
        default="train",
        help="steps on the GPU pool, of train,text,evaluate (default: %(default)s)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=3,
        metavar="N",
        help="retries of GPU tasks, for preemptible nodes (default: %(default)s)",
    )


def _options(args: argparse.Namespace, **fixed: object):  # -> BuildOptions
    from fgsgl.errors import UsageError
    from fgsgl.pipelines.pipeline import BuildOptions

    base = BuildOptions()
    values = {
        "cpu_image": getattr(args, "cpu_image", None) or base.cpu_image,
        "gpu_image": getattr(args, "gpu_image", None) or base.gpu_image,
        "extract_shards": args.extract_shards,
    }
    if hasattr(args, "gpu_steps"):
        values["gpu_steps"] = tuple(s.strip() for s in args.gpu_steps.split(",") if s.strip())
        values["gpu_retries"] = args.retries
    if hasattr(args, "settings"):  # cluster.* of --config / --set: the pod spec
        from fgsgl import settings

        items = args.settings
        if getattr(args, "pipeline", "train") == "predict":  # its own NAME=VALUE aside
            items = [i for i in items if i.partition("=")[0].strip() in settings.BY_KEY]
        values |= BuildOptions.pod_spec(settings.read(items, config=args.config))
    options = BuildOptions(**{**values, **fixed})
    problems = options.problems()
    if problems:
        raise UsageError("; ".join(problems))
    return options


def _plans(args: argparse.Namespace, dataset: str | None = None, fingerprint: str | None = None):
    from fgsgl.pipelines.plan import parse_seeds, plan_runs, read_settings

    settings = read_settings(args.settings, config=args.config)
    return plan_runs(
        args.variant,
        settings=settings,
        seeds=parse_seeds(args.seeds),
        dataset=dataset,
        fingerprint=fingerprint,
    )


def run_compile(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fgsgl import settings
    from fgsgl.pipelines.pipeline import compile_pipeline, upload_required
    from fgsgl.pipelines.variants import load_variants

    if args.pipeline == "predict":
        return _compile_predict(args)
    required = upload_required(settings.read(args.settings, config=args.config))
    options = _options(args, required=required)
    for name in required:
        print(
            f"note: {name} has no default in the YAML (the laptop's default, a random "
            f"tiny-clip, is nothing to train on a GPU): each run sets it, e.g. "
            f"internvl:OpenGVLab/InternVL2_5-8B@COMMIT; --config paper-smg or --set "
            f"{settings.BY_NAME[name].key}=... compiles a default in",
            file=sys.stderr,
        )
    plans = _plans(args)
    if args.dataset:  # a dataset named: plan against it, refusing what cannot run on it
        from fgsgl.dataset import load_dataset
        from fgsgl.pipelines.preflight import check_runs

        ds = load_dataset(args.dataset)
        plans = _plans(args, args.dataset, ds.fingerprint(videos=True))
        check_runs(plans, ds)
    variants = load_variants()
    for plan in plans:
        about = variants[plan.variant].description
        path = compile_pipeline(
            Path(args.out) / f"fgsgl-{plan.name}.yaml",
            options=options,
            defaults=plan.arguments,
            description=f"fgsgl pipeline, variant {plan.name}: {about}",
        )
        print(path)
    return 0


def _compile_predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fgsgl.pipelines.predict import compile_predict_pipeline, predict_arguments

    arguments = predict_arguments(args.settings, config=args.config)
    path = Path(args.out) / "fgsgl-predict.yaml"
    print(compile_predict_pipeline(path, options=_options(args), defaults=arguments or None))
    return 0


def _predict_plan(args: argparse.Namespace):  # -> list[PlannedRun]
    from fgsgl.errors import UsageError
    from fgsgl.pipelines.plan import PlannedRun
    from fgsgl.pipelines.predict import predict_arguments, predict_defaults

    arguments = {**predict_defaults(), **predict_arguments(args.settings, config=args.config)}
    missing = [n for n in ("model_uri", "inputs") if n not in arguments]
    if missing:
        sets = " ".join(f"--set {n}=..." for n in missing)
        raise UsageError(f"--pipeline predict: give {', '.join(missing)} ({sets})")
    return [PlannedRun("predict", "predict", None, arguments)]


def run_run_local(args: argparse.Namespace) -> int:
    from fgsgl.pipelines.local import LOCAL_OPTIONS, run_local
    from fgsgl.pipelines.plan import parse_seeds

    options = LOCAL_OPTIONS
    if args.extract_shards != 1:
        import dataclasses

        options = dataclasses.replace(LOCAL_OPTIONS, extract_shards=args.extract_shards)
        if options.problems():
            from fgsgl.errors import UsageError

            raise UsageError("; ".join(options.problems()))
    result = run_local(
        args.dataset,
        args.variant,
        args.root,
        cache=not args.no_cache,
        seeds=parse_seeds(args.seeds),
        settings=args.settings,
        config=args.config,
        options=options,
        show_logs=args.show_logs,
    )
    print(result.report())
    return 0


def run_submit(args: argparse.Namespace) -> int:
    import os

    from fgsgl.dataset import load_dataset
    from fgsgl.pipelines.preflight import check_runs
    from fgsgl.pipelines.submit import check_ca_bundle, submit

    if args.ssl_ca_cert:  # before the dataset's fingerprint, which reads every video
        check_ca_bundle(args.ssl_ca_cert)
    options = _options(args)
    notes: list[str] = []
    if args.pipeline == "predict":
        plans = _predict_plan(args)
    else:
        if not args.dataset:
            from fgsgl.errors import UsageError

            raise UsageError("--dataset URI: the training pipeline reads a dataset")
        ds = load_dataset(args.dataset)
        plans = _plans(args, args.dataset, ds.fingerprint(videos=True))
        notes = check_runs(plans, ds)
    submit(
        plans,
        host=args.host or os.environ.get("KF_PIPELINES_ENDPOINT"),
        namespace=args.namespace,
        experiment=args.experiment,
        options=options,
        dry_run=args.dry_run,
        cache=not args.no_cache,
        ssl_ca_cert=args.ssl_ca_cert,
        cookies=args.cookies,
        notes=notes,
        pipeline=args.pipeline,
    )
    return 0


def run_rerun(args: argparse.Namespace) -> int:
    from fgsgl.pipelines.rerun import rerun
    from fgsgl.runtime.runs import metrics_table, tasks_table

    record = rerun(
        args.step,
        args.run_dir,
        settings=args.settings,
        config=args.config,
        show_logs=args.show_logs,
    )
    print(tasks_table([record], record.root))
    if record.evaluation:
        print()
        print(metrics_table([record], record.root))
    return 0
