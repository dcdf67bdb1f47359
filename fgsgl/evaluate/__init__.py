"""Evaluation: the numbers of one model on one split, its report, and a compare of runs.

Data and rendering are kept apart: `metrics`, `bootstrap`, `paired` (by seed and clip, with
the minimum detectable effect) and `quantiles` compute on plain arrays,
`artifact` writes and reads the evaluation directory (the files the KFP component logs as
Metrics, ClassificationMetrics and Markdown), `report`, `charts` and `compare_report`
only render. `run.evaluate` and `compare_report.compare` are the step functions
(`compare` builds the comparison, `compare_report` renders and writes it).
Beside them, the linear probes of the attributes on a model's frozen features: `logistic`
(fgsgl.logistic) fits, `probe` probes arrays, `features` extracts f_mid / f_high,
`probe_run.probe` is the step (`fgsgl probe`).
"""
