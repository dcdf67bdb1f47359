"""Frame extraction: sample T frames per clip with decord into a memory-mappable artifact.

- `sampling`: which frame indices a clip contributes (segment middles, repeats, clamping).
- `decode`: decord reading of only those indices at the displayed size.
- `partial`: partial copies (a file cut off, its index still whole): found, read as far as whole.
- `resize`: the crop box of the resize mode, and the bicubic resize to S x S.
- `frames`: the frames artifact on disk: shard writing pieces and the reader `FramesArtifact`.
- `plan`: every clip's shard and slot, fixed before decoding (resume and parts rely on it).
- `worker`: one process's work: the clips of one video into their slots.
- `pool`: worker processes, downloads ahead, surviving a dead worker.
- `target`: the output directory, local or in an object store (staged locally, uploaded per shard).
- `index`: index.csv and failures.csv from the shards' sidecars.
- `extract`, `merge`: the step itself (`fgsgl extract`, `fgsgl extract --merge`).
"""
