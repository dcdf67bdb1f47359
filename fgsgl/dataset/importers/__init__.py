"""Importers: public dataset layouts (iMiGUE, SMG, MA-52, list files) -> dataset directory.

Each importer reads a source tree and returns an `Imported` (tables and notes) without
writing; `write_import` validates and writes it. Videos are not copied or cut: the
manifest points at the source videos, and clips inside long videos keep their frames.
"""

from fgsgl.dataset.importers.base import Imported, write_import
from fgsgl.dataset.importers.imigue import import_imigue
from fgsgl.dataset.importers.listfile import import_list
from fgsgl.dataset.importers.ma52 import import_ma52
from fgsgl.dataset.importers.smg import import_smg

__all__ = ["Imported", "import_imigue", "import_list", "import_ma52", "import_smg", "write_import"]
