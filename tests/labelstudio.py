"""A real Label Studio server for the tests: started on 127.0.0.1 with a fresh data
directory from the environment `make labelstudio-venv` builds, driven over its REST API,
stopped by its pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

PYTHON = Path(sys.prefix) / "labelstudio" / "bin" / "python"
TOKEN = "0123456789abcdef0123456789abcdef01234567"
ADMIN = "admin@fgsgl.example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LabelStudio:
    def __init__(self, data_dir: Path, document_root: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = {"Authorization": f"Token {TOKEN}"}
        env = {
            **os.environ,
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "LATEST_VERSION_CHECK": "false",
            "LOCAL_FILES_SERVING_ENABLED": "true",
            "LOCAL_FILES_DOCUMENT_ROOT": str(document_root),
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        }
        cmd = [
            str(PYTHON.parent / "label-studio"), "start", "--no-browser",
            "--internal-host", "127.0.0.1", "-p", str(self.port),
            "--data-dir", str(data_dir), "--username", ADMIN, "--password", "fgsgl-test-pass",
            "--user-token", TOKEN, "--enable-legacy-api-token",
        ]  # fmt: skip
        self.log = (data_dir.parent / "label-studio.log").open("w")
        self.process = subprocess.Popen(
            cmd, env=env, cwd=data_dir.parent, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip

    def wait(self, timeout: float = 300) -> float:
        """Seconds until /health answers (the first start runs the migrations)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"label-studio exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return time.monotonic() - start
            except requests.ConnectionError:
                pass
            time.sleep(1)
        raise TimeoutError(f"label-studio did not answer on {self.url} in {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def api(self, method: str, path: str, **kw: Any) -> Any:
        headers = {**self.headers, **kw.pop("headers", {})}
        r = requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kw)
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else None

    def project(self, project: dict[str, Any], folder: Path) -> int:
        """Create the project `fgsgl annotate export` wrote in `folder`; returns its id."""
        created = self.api(
            "POST",
            "/api/projects",
            json={
                "title": project["title"],
                "label_config": (folder / project["label_config"]).read_text(),
                "maximum_annotations": project["maximum_annotations"],
                "show_overlap_first": project["show_overlap_first"],
            },
        )
        videos = project["videos"]["local_storage_path"]
        self.api(
            "POST",
            "/api/storages/localfiles",
            json={"project": created["id"], "path": videos, "title": "videos"},
        )
        tasks = (folder / project["tasks_file"]).read_text()
        self.api(
            "POST",
            f"/api/projects/{created['id']}/import",
            data=tasks.encode(),
            headers={"Content-Type": "application/json"},
        )
        return int(created["id"])

    def tasks(self, project: int) -> list[dict[str, Any]]:
        return self.api("GET", "/api/tasks", params={"project": project, "page_size": 1000})[
            "tasks"
        ]

    def user(self, email: str) -> int:
        return int(self.api("POST", "/api/users/", json={"email": email, "username": email})["id"])

    def annotate(self, task: int, result: list[dict[str, Any]], user: int) -> None:
        self.api(
            "POST", f"/api/tasks/{task}/annotations/", json={"result": result, "completed_by": user}
        )

    def export(self, project: int) -> list[dict[str, Any]]:
        """A snapshot export with full predictions and annotators (their e-mails)."""
        options = {
            "predictions": {"only_id": False},
            "annotations__completed_by": {"only_id": False},
        }
        snap = self.api(
            "POST",
            f"/api/projects/{project}/exports/",
            json={"title": "fgsgl", "serialization_options": options},
        )
        return self.api(
            "GET",
            f"/api/projects/{project}/exports/{snap['id']}/download",
            params={"exportType": "JSON"},
        )

    def fetch(self, url: str) -> requests.Response:
        return requests.get(f"{self.url}{url}", headers=self.headers, timeout=60)
