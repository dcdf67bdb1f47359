"""The dataset contract: load, validate and write dataset directories, and import them.

A dataset directory holds manifest.csv (or manifest.parquet) and classes.csv; see
docs/method.md "The dataset contract" and docs/artifacts.md.
"""

from fgsgl.dataset.contract import DatasetError
from fgsgl.dataset.dataset import Dataset, load_dataset
from fgsgl.dataset.validate import validate_tables
from fgsgl.dataset.write import write_tables

__all__ = ["Dataset", "DatasetError", "load_dataset", "validate_tables", "write_tables"]
