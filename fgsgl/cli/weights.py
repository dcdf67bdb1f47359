"""`fgsgl fetch-weights NAME OUT --part vision|language`: a checkpoint, once, into an artifact."""

from __future__ import annotations

import argparse
import json

HELP = """\
Copy the files of a backbone's or a text encoder's checkpoint that one part of the
pipeline reads into a weights artifact (OUT/files/ and OUT/metadata.json), so that the
steps that use it read them from there instead of downloading them each time:

  --part vision    config, preprocessor config and the safetensors shards holding the
                   vision tower and its projector (training, evaluation)
  --part language  configs, tokenizer files, the checkpoint's code and the shards holding
                   the language model (text encoding)

NAME is a backbone name (internvl:ORG/NAME@REVISION, clip:...) for vision or an encoder
name (internvl:..., hf:...) for language; names without a checkpoint (tiny-clip, minilm)
give an artifact without files. Pin hub ids to a commit (ORG/NAME@COMMIT): an unpinned id
is fetched at whatever main is today, with a warning naming the commit to pin.

The files come from the Hugging Face hub (or its local cache), from a local folder when
NAME names one, or from --mirror: a folder, gs:// or s3:// prefix that holds each model under its
name as written (MIRROR/ORG/NAME@REVISION/, e.g. made with `huggingface-cli download
ORG/NAME --revision REVISION --local-dir MIRROR/ORG/NAME@REVISION`), for clusters with no
hub access. Then `fgsgl train ... --weights OUT`, `fgsgl evaluate ... --weights OUT` and
`fgsgl encode-text ... --weights OUT` read it; the pipeline's fetch-backbone and
fetch-text-encoder steps do this once per name and cache it."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch-weights",
        help="copy a checkpoint's files for one part of the pipeline into an artifact",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", metavar="NAME", help="backbone or text-encoder name")
    p.add_argument("out", metavar="OUT", help="the weights artifact folder to write")
    p.add_argument("--part", choices=("vision", "language"), required=True, help="which part")
    p.add_argument(
        "--mirror", metavar="DIR|URL", help="take hub ids from this mirror (gs://, s3://)"
    )
    p.set_defaults(func=run_fetch)


def run_fetch(args: argparse.Namespace) -> int:
    from fgsgl.weights import fetch_weights

    meta = fetch_weights(args.name, args.out, part=args.part, mirror=args.mirror)
    shown = {k: meta.get(k) for k in ("name", "checkpoint", "part", "source", "commit")}
    print(json.dumps({**shown, "files": len(meta.get("files", {})), "out": args.out}, indent=2))
    return 0
