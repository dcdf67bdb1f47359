"""Fingerprints: equal content, equal hash; key order and whitespace do not matter."""

from __future__ import annotations

import hashlib

from fgsgl.hashing import sha256_bytes, sha256_file, sha256_json


def test_file_hash_matches_hashlib(tmp_path):
    data = bytes(range(256)) * 5000  # more than one read chunk
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest() == sha256_bytes(data)


def test_json_hash_ignores_key_order():
    assert sha256_json({"a": 1, "b": [1, 2]}) == sha256_json({"b": [1, 2], "a": 1})
    assert sha256_json({"a": 1}) != sha256_json({"a": 2})
