"""A local stand-in for the KFP v2beta1 REST API server, strict where the real one is: every
JSON body is parsed with kfp_server_api's models (the real API's generated schema),
namespaces are honoured on list and create, 401 without a token where auth is on, 409 on a
duplicate name. `serve(fake)` runs it on 127.0.0.1 (a free port), optionally over TLS."""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import ssl
import threading
import uuid
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import kfp_server_api
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

CREATED = "2026-01-02T03:04:05Z"  # every created_at: deterministic answers

# The query parameters of each route, as kfp_server_api's generated API (the server's
# OpenAPI schema) defines them; "*" stands for a pipeline id.
QUERY = {
    ("GET", "healthz"): set(),
    ("GET", "experiments"): {"page_token", "page_size", "sort_by", "filter", "namespace"},
    ("POST", "experiments"): set(),
    ("GET", "pipelines"): {"page_token", "page_size", "sort_by", "filter", "namespace"},
    ("POST", "pipelines/upload"): {"name", "display_name", "description", "namespace", "tags"},
    ("GET", "pipelines/*/versions"): {"page_token", "page_size", "sort_by", "filter"},
    ("POST", "pipelines/upload_version"): {
        "name",
        "display_name",
        "pipelineid",
        "description",
        "tags",
    },
    ("POST", "runs"): {"experiment_id"},
}
PARAMETER_TYPES = {  # a pipeline spec's parameterType: the JSON values it takes
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
    "STRUCT": (dict,),
    "LIST": (list,),
}
# Enum numbers of the API's protos (protojson takes an enum by number too); the generated
# models know only the names. backend/api/v2beta1/filter.proto:
ENUM_NUMBERS = {
    "V2beta1PredicateOperation": {
        0: "OPERATION_UNSPECIFIED",
        1: "EQUALS",
        2: "NOT_EQUALS",
        3: "GREATER_THAN",
        5: "GREATER_THAN_EQUALS",
        6: "LESS_THAN",
        7: "LESS_THAN_EQUALS",
        8: "IN",
        9: "IS_SUBSTRING",
    },
}
_API = kfp_server_api.ApiClient()


class Refused(Exception):
    """What the server answers instead of a result: an HTTP status and the google.rpc
    Status body of grpc-gateway ({"error", "code", "message"})."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad(message: str) -> Refused:
    return Refused(400, 3, f"Invalid input error: {message}")  # INVALID_ARGUMENT


class FakeKfp:
    """The KFP v2beta1 API server, as far as `kfp.Client` goes for upload, experiments and
    runs, refusing what the real one refuses: every JSON body and filter is decoded against
    kfp_server_api's models, the generated schema of the API (an unknown field or a wrong
    type is a 400), every query parameter against the route's, every uploaded pipeline as a
    PipelineSpec protobuf; pipelines and experiments live in a namespace ("" = shared) and a
    list shows only those of the namespace asked for; a name taken in its namespace (or a
    version name in its pipeline) is a 409; a run's parameters must be the pipeline's (what
    the root driver would fail the run for). With `token` set every call but healthz needs
    `Authorization: Bearer <token>` (401), as behind Kubeflow's auth."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.requests: list[dict[str, Any]] = []
        self.refusals: list[tuple[int, str]] = []
        self.experiments: list[dict[str, Any]] = []
        self.pipelines: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.uploads: list[bytes] = []
        self.specs: dict[str, pipeline_spec_pb2.PipelineSpec] = {}  # by version id

    def handle(self, method: str, path: str, query: dict, headers: Any, body: bytes) -> Any:
        self.requests.append(
            {"method": method, "path": path, "query": query, "headers": dict(headers)}
        )
        try:
            return 200, self._route(method, path, query, headers, body)
        except Refused as e:
            self.refusals.append((e.status, e.message))
            return e.status, {"error": e.message, "code": e.code, "message": e.message}

    def task_caching(self, run: dict[str, Any]) -> dict[str, bool]:
        """Whether each executed task of a run may come from the cache, as the server sees
        it: from the run's inline spec, else from the spec of the version it references."""
        if "pipeline_spec" in run:
            inline = run["pipeline_spec"]
            spec = _pipeline_spec(inline.get("pipeline_spec", inline))
        else:
            spec = self.specs[run["pipeline_version_reference"]["pipeline_version_id"]]
        dags = [spec.root.dag] + [c.dag for c in spec.components.values() if c.HasField("dag")]
        return {
            name: task.caching_options.enable_cache
            for dag in dags
            for name, task in dag.tasks.items()
            if not spec.components[task.component_ref.name].HasField("dag")
        }

    def _route(self, method: str, path: str, query: dict, headers: Any, body: bytes) -> Any:
        parts = path.strip("/").split("/")
        if parts[:2] != ["apis", "v2beta1"]:
            raise Refused(404, 5, f"unknown path {path}")
        rest = parts[2:]
        versions_of = rest[1] if len(rest) == 3 and rest[::2] == ["pipelines", "versions"] else ""
        route = "pipelines/*/versions" if versions_of else "/".join(rest)
        if (method, route) not in QUERY:
            raise Refused(404, 5, f"unhandled {method} {path}")
        unknown = sorted(set(query) - QUERY[method, route])
        if unknown:
            raise _bad(f"unknown query parameter(s) {', '.join(unknown)} for {method} {path}")
        if route != "healthz":  # the API server checks no identity for healthz
            self._authorize(headers)
        namespace = _one(query, "namespace") or ""
        if route == "healthz":
            return _reply({"multi_user": False}, "V2beta1GetHealthzResponse")
        if route == "experiments" and method == "GET":
            found = _matching(self.experiments, query, namespace)
            listed = {"experiments": found or None, "total_size": len(found) or None}
            return _reply(listed, "V2beta1ListExperimentsResponse")
        if route == "experiments":
            return self._create_experiment(_decode(body, "V2beta1Experiment"))
        if route == "pipelines" and method == "GET":
            found = _matching(self.pipelines, query, namespace)
            listed = {"pipelines": found or None, "total_size": len(found) or None}
            return _reply(listed, "V2beta1ListPipelinesResponse")
        if route == "pipelines/upload":
            return self._upload(query, namespace, _file_field(headers, body))
        if route == "pipelines/*/versions":
            self._pipeline(versions_of)
            found = _matching([v for v in self.versions if v["pipeline_id"] == versions_of], query)
            listed = {"pipeline_versions": found or None, "total_size": len(found) or None}
            return _reply(listed, "V2beta1ListPipelineVersionsResponse")
        if route == "pipelines/upload_version":
            pipeline = self._pipeline(_one(query, "pipelineid") or "")
            return self._add_version(pipeline, _name(query), _file_field(headers, body))
        return self._create_run(_decode(body, "V2beta1Run"))

    def _authorize(self, headers: Any) -> None:
        if self.token is None:
            return
        sent = headers.get("Authorization")
        if sent != f"Bearer {self.token}":
            why = "no bearer token" if not sent else "the bearer token is not valid"
            raise Refused(401, 16, f"Request is not authenticated: {why}")  # UNAUTHENTICATED

    def _create_experiment(self, exp: Any) -> dict[str, Any]:
        if not exp.display_name:
            raise _bad("experiment display_name is empty")
        namespace = exp.namespace or ""
        if _matching(self.experiments, {}, namespace, exp.display_name):
            raise _taken(f"experiment {exp.display_name!r}", namespace)
        record = {
            **_API.sanitize_for_serialization(exp),
            "experiment_id": f"exp-{len(self.experiments) + 1}",
            "namespace": namespace,
            "storage_state": "AVAILABLE",
            "created_at": CREATED,
        }
        self.experiments.append(record)
        return _reply(record, "V2beta1Experiment")

    def _upload(self, query: dict, namespace: str, upload: bytes) -> dict[str, Any]:
        name = _name(query)
        if _matching(self.pipelines, {}, namespace, name):
            raise _taken(f"pipeline {name!r}", namespace)
        spec = _uploaded_spec(upload)  # before anything is stored: a bad file creates nothing
        pipeline = {
            "pipeline_id": str(uuid.uuid4()),
            "display_name": name,
            "name": name,
            "namespace": namespace,
            "created_at": CREATED,
        }
        if _one(query, "description"):
            pipeline["description"] = _one(query, "description")
        self.pipelines.append(pipeline)
        self._add_version(pipeline, name, upload, spec)  # the server's first version
        return _reply(pipeline, "V2beta1Pipeline")

    def _add_version(
        self,
        pipeline: dict[str, Any],
        name: str,
        upload: bytes,
        spec: pipeline_spec_pb2.PipelineSpec | None = None,
    ) -> dict[str, Any]:
        if any(v["pipeline_id"] == pipeline["pipeline_id"] for v in _named(self.versions, name)):
            raise _taken(f"pipeline version {name!r} of pipeline {pipeline['display_name']!r}")
        spec = spec or _uploaded_spec(upload)
        self.uploads.append(upload)
        version = {
            "pipeline_id": pipeline["pipeline_id"],
            "pipeline_version_id": str(uuid.uuid4()),
            "display_name": name,
            "name": name,
            "created_at": CREATED,
        }
        self.versions.append(version)
        self.specs[version["pipeline_version_id"]] = spec
        return _reply(version, "V2beta1PipelineVersion")

    def _create_run(self, run: Any) -> dict[str, Any]:
        if not run.display_name:
            raise _bad("run display_name is empty")
        experiment = next(
            (e for e in self.experiments if e["experiment_id"] == run.experiment_id), None
        )
        if experiment is None:
            raise Refused(404, 5, f"experiment {run.experiment_id!r} not found")
        ref = run.pipeline_version_reference
        if (ref is None) == (run.pipeline_spec is None):
            raise _bad("a run needs exactly one of pipeline_spec and pipeline_version_reference")
        if ref is not None:
            pipeline = self._pipeline(ref.pipeline_id or "")
            if pipeline["namespace"] not in ("", experiment["namespace"]):
                raise Refused(403, 7, "the pipeline is private to another namespace")
            known = {v["pipeline_version_id"] for v in self.versions}
            ours = {
                v["pipeline_version_id"]
                for v in self.versions
                if v["pipeline_id"] == ref.pipeline_id
            }
            if ref.pipeline_version_id not in known:
                raise Refused(404, 5, f"pipeline version {ref.pipeline_version_id!r} not found")
            if ref.pipeline_version_id not in ours:
                raise _bad("the pipeline version is not a version of the pipeline")
            spec = self.specs[ref.pipeline_version_id]
        else:
            inline = run.pipeline_spec
            spec = _pipeline_spec(inline.get("pipeline_spec", inline))
        _check_parameters(spec, (run.runtime_config and run.runtime_config.parameters) or {})
        record = {
            **_API.sanitize_for_serialization(run),
            "run_id": f"run-{len(self.runs) + 1}",
            "state": "PENDING",
            "created_at": CREATED,
        }
        self.runs.append(record)
        return _reply(record, "V2beta1Run")

    def _pipeline(self, pipeline_id: str) -> dict[str, Any]:
        for p in self.pipelines:
            if p["pipeline_id"] == pipeline_id:
                return p
        raise Refused(404, 5, f"pipeline {pipeline_id!r} not found")


def _taken(what: str, namespace: str | None = None) -> Refused:
    where = (
        "" if namespace is None else f" in namespace {namespace!r}" if namespace else " (shared)"
    )
    return Refused(409, 6, f"Already exist error: {what} already exists{where}")  # ALREADY_EXISTS


def _one(query: dict, key: str) -> str | None:
    values = query.get(key)
    if values is not None and len(values) != 1:
        raise _bad(f"query parameter {key} given {len(values)} times")
    return values[0] if values else None


def _name(query: dict) -> str:
    name = _one(query, "name") or _one(query, "display_name")
    if not name:
        raise _bad("a pipeline (version) needs a name")
    return name


def _named(records: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [r for r in records if r["display_name"] == name]


def _matching(
    records: list[dict[str, Any]], query: dict, namespace: str | None = None, name: str = ""
) -> list[dict[str, Any]]:
    """The records in `namespace` (None: any) that pass the query's filter (and `name`)."""
    found = [r for r in records if namespace is None or r.get("namespace", "") == namespace]
    if name:
        found = _named(found, name)
    for key, value in _filter(query):
        found = [r for r in found if r.get(key) == value]
    return found


def _filter(query: dict) -> list[tuple[str, Any]]:
    """The predicates of the `filter` query parameter: a JSON-encoded Filter message, decoded
    like the server does (protojson: both the proto and the lowerCamel field names)."""
    text = _one(query, "filter")
    if not text:
        return []
    try:
        decoded = _decode(text.encode(), "V2beta1Filter")
    except Refused as e:
        raise _bad(f"filter {text}: {e.message}") from e
    out = []
    for predicate in decoded.predicates or []:
        if predicate.operation != "EQUALS" or predicate.key not in ("display_name", "name"):
            raise _bad(f"filter: unsupported predicate {predicate.operation} {predicate.key}")
        out.append((predicate.key, predicate.string_value))
    return out


def _decode(body: bytes, klass: str) -> Any:
    """A request body as the server decodes it: strict JSON of the API type `klass` (an
    unknown field or a wrong type is a 400), then the kfp_server_api model."""
    try:
        data = json.loads(body)
    except ValueError as e:
        raise _bad(f"the body is not JSON: {e}") from e
    checked = _strict(data, klass, klass)
    return _API.deserialize(_Raw(json.dumps(checked)), klass)


class _Raw:
    """What ApiClient.deserialize reads: a response's `data`."""

    def __init__(self, data: str) -> None:
        self.data = data


def _reply(payload: dict[str, Any], klass: str) -> dict[str, Any]:
    """An answer, checked against the API type the client will decode it as."""
    checked = _strict({k: v for k, v in payload.items() if v is not None}, klass, klass)
    return _API.sanitize_for_serialization(_API.deserialize(_Raw(json.dumps(checked)), klass))


_PRIMITIVE = {"str": (str,), "bool": (bool,), "float": (int, float), "object": (object,)}


def _strict(data: Any, klass: str, where: str) -> Any:
    """`data` checked against the kfp_server_api type `klass` (its openapi_types and
    attribute_map, the API's schema), keys in their proto names."""
    if data is None:
        return None
    if klass.startswith("list["):
        if not isinstance(data, list):
            raise _bad(f"{where}: a list expected, got {data!r}")
        return [_strict(x, klass[5:-1], f"{where}[{i}]") for i, x in enumerate(data)]
    if klass.startswith("dict("):
        if not isinstance(data, dict):
            raise _bad(f"{where}: an object expected, got {data!r}")
        inner = klass[len("dict(str, ") : -1]
        return {k: _strict(v, inner, f"{where}.{k}") for k, v in data.items()}
    if klass in _PRIMITIVE:
        if not isinstance(data, _PRIMITIVE[klass]) or (klass == "float" and data is True):
            raise _bad(f"{where}: {klass} expected, got {data!r}")
        return data
    if klass == "int":  # protojson also takes a 64-bit integer as a string
        if isinstance(data, bool) or not re.fullmatch(r"-?\d+", str(data)):
            raise _bad(f"{where}: int expected, got {data!r}")
        return int(data)
    if klass == "datetime":
        try:
            datetime.datetime.fromisoformat(str(data).replace("Z", "+00:00"))
        except ValueError as e:
            raise _bad(f"{where}: a timestamp expected, got {data!r}") from e
        return data
    model = getattr(kfp_server_api.models, klass)
    if hasattr(model, "allowable_values"):  # an enum, by name or by number
        if isinstance(data, int) and not isinstance(data, bool):
            data = ENUM_NUMBERS.get(klass, {}).get(data, data)
        if data not in model.allowable_values:
            raise _bad(f"{where}: {data!r} is not one of {', '.join(model.allowable_values)}")
        return data
    if not isinstance(data, dict):
        raise _bad(f"{where}: an object ({klass}) expected, got {data!r}")
    by_name = {}
    for attr, key in model.attribute_map.items():
        by_name[key] = attr
        by_name[re.sub(r"_(\w)", lambda m: m.group(1).upper(), key)] = attr  # lowerCamel
    out = {}
    for key, value in data.items():
        attr = by_name.get(key)
        if attr is None:
            raise _bad(f"{where}: unknown field {key!r} (not in {klass})")
        out[model.attribute_map[attr]] = _strict(value, model.openapi_types[attr], f"{where}.{key}")
    return out


def _pipeline_spec(data: dict[str, Any]) -> pipeline_spec_pb2.PipelineSpec:
    try:
        return json_format.ParseDict(data, pipeline_spec_pb2.PipelineSpec())
    except json_format.ParseError as e:
        raise _bad(f"not a pipeline spec: {e}") from e


def _uploaded_spec(upload: bytes) -> pipeline_spec_pb2.PipelineSpec:
    """The uploaded YAML as the server reads it: a PipelineSpec, then a PlatformSpec."""
    try:
        docs = list(yaml.safe_load_all(upload))
    except yaml.YAMLError as e:
        raise _bad(f"the uploaded file is not YAML: {e}") from e
    if not docs or not isinstance(docs[0], dict) or len(docs) > 2:
        raise _bad("the uploaded file is not one pipeline spec (and a platform spec)")
    spec = _pipeline_spec(docs[0])
    if len(docs) == 2:
        try:
            json_format.ParseDict(docs[1], pipeline_spec_pb2.PlatformSpec())
        except json_format.ParseError as e:
            raise _bad(f"not a platform spec: {e}") from e
    if not spec.pipeline_info.name or not spec.root.dag.tasks:
        raise _bad("the pipeline spec has no name or no tasks")
    return spec


def _check_parameters(spec: pipeline_spec_pb2.PipelineSpec, params: dict[str, Any]) -> None:
    declared = spec.root.input_definitions.parameters
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise _bad(f"unknown run parameter(s) {', '.join(unknown)}")
    for name, value in params.items():
        kind = pipeline_spec_pb2.ParameterType.ParameterTypeEnum.Name(declared[name].parameter_type)
        ok = PARAMETER_TYPES.get(kind, (object,))
        if not isinstance(value, ok) or (kind != "BOOLEAN" and isinstance(value, bool)):
            raise _bad(f"run parameter {name}={value!r} is not a {kind}")


def _file_field(headers: Any, body: bytes) -> bytes:
    """The uploaded file of a multipart/form-data request."""
    head = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts = [
        p
        for p in message.iter_parts()
        if p.get_param("name", header="content-disposition") == "uploadfile"
    ]
    if len(parts) != 1:
        raise _bad("a multipart body with one uploadfile expected")
    return parts[0].get_payload(decode=True)


@contextlib.contextmanager
def serve(fake: FakeKfp, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """The fake on 127.0.0.1 (a free port), over TLS with `tls`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            code, payload = fake.handle(
                self.command, url.path, parse_qs(url.query), self.headers, body
            )
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
