"""Evaluation: the numbers of one model on one split, its report, and a compare of runs.

Data and rendering are kept apart: `metrics` and `bootstrap` compute on plain arrays,
`artifact` writes and reads the evaluation directory (the files the KFP component logs as
Metrics, ClassificationMetrics and Markdown), `report`, `charts` and `compare_report`
only render. `run.evaluate` and `compare_report.compare` are the step functions
(`compare` builds the comparison, `compare_report` renders and writes it).
"""
