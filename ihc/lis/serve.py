"""``ihc serve``: an HTTP service for interface engines, and a page for people at ``/``.

Starlette on uvicorn. Endpoints (``GET /openapi.json`` describes them, ``GET /docs`` shows that
description as a page):

- ``POST /v1/classify`` JSON ``{"panel": text or {marker: value}, "site": text, "top": n,
  "mode": "default"|"strict"|"lenient", "available": [markers], "context": {...}}`` -> the
  classify object (``GET /v1/schema``). ``context`` (morphology, age, sex) is accepted and
  not yet used; a ``case_id`` given is echoed first (the ``ihc batch`` JSON Lines row).
- ``POST /v1/batch`` CSV (``text/csv``, the ``ihc batch`` layout) or JSON Lines
  (``application/x-ndjson``: ``{"case_id", "panel" or "markers", "site"}`` per line) -> JSON
  Lines streamed, one row per input row in order (``?format=csv`` for the batch CSV).
- ``POST /v1/hl7`` ER7 -> ORU^R01 messages (``?format=jsonl`` or ``Accept: application/json``
  for the records); ``POST /v1/fhir`` FHIR JSON -> a Bundle (see :mod:`ihc.lis.hl7`,
  :mod:`ihc.lis.fhir`).
- ``GET /v1/health``, ``GET /v1/schema[?which=batch-row]``, ``GET /`` (the page).

Every bad request is a 4xx JSON ``{"error": message, "status": code}``: malformed JSON (400),
an unreadable panel (422), a body over the limit (413), a wrong content type (415), a missing
or wrong bearer token (401), input that is not HL7 or FHIR (400). An unexpected failure is a
500 with a generic message. Nothing logs request bodies, panels, ids or message content.
The model is loaded and checked against its card once, when the app is created.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import os
import queue
import threading
from pathlib import Path

from ..exceptions import IhcError, InputError
from .core import need

__all__ = ["create_app", "serve", "DEFAULT_MAX_BODY"]

DEFAULT_MAX_BODY = 5 * 1024 * 1024
_HERE = Path(__file__).resolve().parent
_OPEN = {"/", "/v1/health", "/openapi.json", "/docs"}
_JSON_TYPES = ("application/json", "application/fhir+json")
_NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/ndjson")
_CSV_TYPES = ("text/csv", "application/csv")
_HL7_TYPES = ("x-application/hl7-v2+er7", "application/hl7-v2", "application/hl7-v2+er7", "text/plain",
              "application/edi-hl7", "application/octet-stream")


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def _ctype(request):
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def _need_type(request, accepted, what):
    ct = _ctype(request)
    if ct not in accepted:
        raise HTTPError(415, f"content type {ct or 'missing'!r} is not accepted here: send {what} "
                             f"({', '.join(accepted)})")


async def _body(request, limit):
    cl = request.headers.get("content-length")
    if cl and cl.isdigit() and int(cl) > limit:
        raise HTTPError(413, f"request body of {int(cl)} bytes is over the limit of {limit} bytes")
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise HTTPError(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(data):
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise HTTPError(400, "the body is not UTF-8 text") from None
    except ValueError as exc:
        raise HTTPError(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _classify_request(obj, model):
    import ihc

    if not isinstance(obj, dict):
        raise HTTPError(400, 'the body must be a JSON object: {"panel": "SMA+ desmin+ CD117-", "site": "stomach"}')
    unknown = set(obj) - {"panel", "site", "top", "mode", "available", "context", "case_id"}
    if unknown:
        raise HTTPError(400, f"unknown field(s) {', '.join(sorted(unknown))}: accepted are panel, site, top, mode, "
                             "available, context, case_id")
    panel = obj.get("panel")
    if not isinstance(panel, (str, dict)) or not panel:
        raise HTTPError(400, '"panel" is required: text as a report writes it, or an object {marker: value}')
    site = obj.get("site")
    if site is not None and not isinstance(site, str):
        raise HTTPError(400, '"site" must be text, e.g. "gastric fundus"')
    top = obj.get("top", 5)
    if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= 30:
        raise HTTPError(400, '"top" must be an integer 0-30')
    mode = obj.get("mode", "default")
    if mode not in ("default", "strict", "lenient"):
        raise HTTPError(400, '"mode" must be default, strict or lenient')
    available = obj.get("available")
    if available is not None and not (isinstance(available, list) and all(isinstance(a, str) for a in available)):
        raise HTTPError(400, '"available" must be a list of marker names')
    if obj.get("context") is not None and not isinstance(obj["context"], dict):
        raise HTTPError(400, '"context" must be an object (morphology and clinical fields)')
    case_id = obj.get("case_id")
    if case_id is not None and not isinstance(case_id, (str, int)):
        raise HTTPError(400, '"case_id" must be text or an integer')
    try:
        d = ihc.classify(panel, site, morphology=obj.get("context"), mode=mode, top=top, available=available,
                         model=model).to_dict()
    except IhcError as exc:
        raise HTTPError(422, " ".join(str(exc).split())) from None
    return d if case_id is None else {"case_id": str(case_id), **d}


def _jsonl_rows(text, model):
    import ihc

    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            yield {"case_id": n, "schema_version": "1", "status": "error", "error": f"line {n}: malformed JSON ({exc.msg})"}
            continue
        if not isinstance(obj, dict):
            yield {"case_id": n, "schema_version": "1", "status": "error", "error": f"line {n}: not a JSON object"}
            continue
        cid = obj.get("case_id")
        cid = n if cid is None else str(cid)  # the 1-based line number when the line has no case_id
        panel = obj.get("panel", obj.get("markers"))
        if not isinstance(panel, (str, dict)) or not panel:
            yield {"case_id": cid, "schema_version": "1", "status": "error", "error": f"line {n}: no 'panel' (text) or 'markers' (object)"}
            continue
        site = obj.get("site") if isinstance(obj.get("site"), str) else None
        try:
            yield {"case_id": cid, **ihc.classify(panel, site, model=model).to_dict()}
        except IhcError as exc:
            yield {"case_id": cid, "schema_version": "1", "status": "error", "error": " ".join(str(exc).split())}


class _QueueWriter(io.TextIOBase):
    def __init__(self, q):
        self.q = q

    def write(self, s):
        if s:
            self.q.put(s, timeout=_STALL_SECONDS)  # a client that stopped reading ends the run (queue.Full)
        return len(s)

    def writable(self):
        return True


_DONE = object()
_STALL_SECONDS = 120


def _page():
    return (_HERE / "page.html").read_text(encoding="utf-8")


def openapi_spec():
    """The OpenAPI 3.1 description of the service (a dict)."""
    from .. import __version__
    from ..schema import load_schema

    err = {"description": "bad request", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    errors = {str(c): {**err, "description": d} for c, d in
              ((400, "malformed JSON, a wrong field, or input that is not HL7/FHIR"), (401, "missing or wrong bearer token"),
               (413, "body over the size limit"), (415, "wrong content type"), (422, "a panel that cannot be read"))}
    classify_req = {"type": "object", "required": ["panel"], "additionalProperties": False, "properties": {
        "panel": {"oneOf": [{"type": "string"}, {"type": "object"}],
                  "examples": ["SMA(+), Des(+), CD34(-), CD117(-), S100(-), Ki-67(+,30%), DOG1(-)"]},
        "site": {"type": ["string", "null"], "examples": ["retroperitoneum"]},
        "top": {"type": "integer", "minimum": 0, "maximum": 30, "default": 5},
        "mode": {"enum": ["default", "strict", "lenient"]},
        "available": {"type": "array", "items": {"type": "string"}},
        "context": {"type": "object", "description": "morphology and clinical fields, as `ihc classify` options: mitoses ('15/10 HPF'), necrosis, atypia, pleomorphic, cell_type, size_cm, age, sex"},
        "case_id": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "ihc", "version": __version__,
                 "description": "Rank the diagnoses a spindle-cell tumour's IHC panel supports. Decision support: "
                                "results are preliminary; the pathologist decides."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": {"Error": {"type": "object", "required": ["error", "status"],
                                             "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}},
                                   "ClassifyRequest": classify_req,
                                   "ClassifyResult": load_schema("classify")}},
        "security": [{"bearer": []}, {}],
        "paths": {
            "/v1/classify": {"post": {"summary": "Classify one panel",
                                      "requestBody": {"required": True, "content": {"application/json": {
                                          "schema": {"$ref": "#/components/schemas/ClassifyRequest"}}}},
                                      "responses": {"200": {"description": "the classify object", "content": {
                                          "application/json": {"schema": {"$ref": "#/components/schemas/ClassifyResult"}}}},
                                          **errors}}},
            "/v1/batch": {"post": {"summary": "Classify many cases: CSV (ihc batch layout) or JSON Lines in, "
                                              "JSON Lines (or ?format=csv) streamed out, one row per input row",
                                   "parameters": [{"name": "format", "in": "query", "schema": {"enum": ["jsonl", "csv"]}}],
                                   "requestBody": {"required": True, "content": {"text/csv": {}, "application/x-ndjson": {}}},
                                   "responses": {"200": {"description": "rows", "content": {"application/x-ndjson": {}, "text/csv": {}}},
                                                 **errors}}},
            "/v1/hl7": {"post": {"summary": "HL7 v2 ORU^R01 in; ORU^R01 (preliminary) or JSON records out",
                                 "parameters": [{"name": "format", "in": "query", "schema": {"enum": ["hl7", "jsonl"]}}],
                                 "requestBody": {"required": True, "content": {"x-application/hl7-v2+er7": {}, "text/plain": {}}},
                                 "responses": {"200": {"description": "one result per specimen, in order; header "
                                                                      "X-IHC-Errors counts per-message errors",
                                                       "content": {"x-application/hl7-v2+er7": {}, "application/x-ndjson": {}}},
                                               **errors}}},
            "/v1/fhir": {"post": {"summary": "FHIR R4 Bundle / DiagnosticReport in; Bundle with a preliminary "
                                             "DiagnosticReport out",
                                  "requestBody": {"required": True, "content": {"application/fhir+json": {}, "application/json": {}}},
                                  "responses": {"200": {"description": "a FHIR R4 Bundle", "content": {"application/fhir+json": {}}},
                                                **errors}}},
            "/v1/health": {"get": {"summary": "model version and sha256", "security": [{}],
                                   "responses": {"200": {"description": "ok"}}}},
            "/v1/schema": {"get": {"summary": "the JSON schema of the output contract",
                                   "parameters": [{"name": "which", "in": "query", "schema": {"enum": ["classify", "batch-row"]}}],
                                   "responses": {"200": {"description": "JSON schema"}}}},
        },
    }


def create_app(*, token=None, max_body=DEFAULT_MAX_BODY, model=None):
    """The Starlette application.

    Parameters
    ----------
    token : str, optional
        When given, every request except ``/``, ``/docs``, ``/openapi.json`` and ``/v1/health``
        needs ``Authorization: Bearer <token>``.
    max_body : int
        Largest accepted request body, in bytes.
    model : path, optional
        Model directory; loaded and checked against its card now (raises ModelError).

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> c = TestClient(create_app())
    >>> c.post("/v1/classify", json={"panel": "CD117+ DOG1+", "site": "stomach"}).json()["differential"][0]["diagnosis"]
    'gist'
    """
    need("starlette", "ihc serve")
    import ihc
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    warm = ihc.classify("SMA+ desmin+ CD117- DOG1-", model=model)  # load and check the model once, now
    model_info = warm.to_dict()["model"]
    token_b = token.encode("utf-8") if token else None

    def error(status, message):
        return JSONResponse({"error": message, "status": status}, status_code=status)

    async def on_http_error(request, exc):
        return error(exc.status, exc.message)

    async def on_starlette_http(request, exc):
        msg = {404: f"no such endpoint {request.url.path}; see /docs", 405: f"method {request.method} is not "
               f"allowed on {request.url.path}; see /docs"}.get(exc.status_code, str(exc.detail))
        return error(exc.status_code, msg)

    class Guard:  # bearer token, and a 500 JSON answer for a bug (never a traceback to the client)
        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            if token_b is not None and scope["type"] == "http" and scope["path"] not in _OPEN:
                got = dict(scope["headers"]).get(b"authorization", b"")
                ok = got.startswith(b"Bearer ") and hmac.compare_digest(got[7:].strip(), token_b)
                if not ok:
                    resp = error(401, "a bearer token is required: send 'Authorization: Bearer <token>'"
                                 if not got else "the bearer token is not valid")
                    resp.headers["WWW-Authenticate"] = "Bearer"
                    await resp(scope, receive, send)
                    return
            started = False

            async def send_tracked(message):
                nonlocal started
                if message["type"] == "http.response.start":
                    started = True
                await send(message)

            try:
                await self.app(scope, receive, send_tracked)
            except Exception as exc:  # noqa: BLE001 - a bug: answer 500; the log names no content
                logging.getLogger("ihc.serve").error("internal error answering %s %s: %s", scope.get("method"),
                                                     scope.get("path"), exc.__class__.__name__)
                if not started and scope["type"] == "http":
                    await error(500, "internal error: the request could not be answered (the service keeps "
                                     "running)")(scope, receive, send)

    async def classify_ep(request):
        _need_type(request, ("application/json",), "a JSON object")
        obj = _json(await _body(request, max_body))
        return JSONResponse(_classify_request(obj, model))

    async def batch_ep(request):
        ct = _ctype(request)
        if ct not in _CSV_TYPES + _NDJSON_TYPES:
            raise HTTPError(415, f"content type {ct or 'missing'!r} is not accepted here: send CSV (text/csv) "
                                 "or JSON Lines (application/x-ndjson)")
        fmt = request.query_params.get("format", "jsonl")
        if fmt not in ("jsonl", "csv"):
            raise HTTPError(400, "format must be jsonl or csv")
        data = await _body(request, max_body)
        if ct in _NDJSON_TYPES:
            if fmt != "jsonl":
                raise HTTPError(400, "JSON Lines input gives JSON Lines output only")
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise HTTPError(400, "the body is not UTF-8 text") from None
            rows = (json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in _jsonl_rows(text, model))
            return StreamingResponse(rows, media_type="application/x-ndjson")
        from ..batch import run_batch

        q = queue.Queue(maxsize=64)

        def work():
            try:
                run_batch(io.BytesIO(data), _QueueWriter(q), fmt=fmt, model=model, workers=1)
                q.put(_DONE)
            except Exception as exc:  # an unusable input as a whole (before any row), or a stalled client
                try:
                    q.put(exc, timeout=1)
                except queue.Full:
                    pass

        threading.Thread(target=work, daemon=True).start()
        import anyio

        first = await anyio.to_thread.run_sync(q.get)
        if isinstance(first, InputError):
            raise HTTPError(422, " ".join(str(first).split()))
        if isinstance(first, Exception):
            raise first

        def rest():
            item = first
            while item is not _DONE:
                if isinstance(item, Exception):
                    return
                yield item
                item = q.get()

        return StreamingResponse(rest(), media_type="application/x-ndjson" if fmt == "jsonl" else "text/csv")

    async def hl7_ep(request):
        from .hl7 import run_hl7

        ct = _ctype(request)
        if ct in _JSON_TYPES or ct in _CSV_TYPES:
            raise HTTPError(415, f"content type {ct!r} is not HL7: send ER7 as x-application/hl7-v2+er7 or text/plain")
        data = await _body(request, max_body)
        want_json = request.query_params.get("format") == "jsonl" or "application/json" in request.headers.get("accept", "")
        try:
            text, records = run_hl7(data, fmt="jsonl" if want_json else "hl7", model=model)
        except InputError as exc:
            raise HTTPError(400, " ".join(str(exc).split())) from None
        errors = sum(1 for r in records if r.get("status") == "error")
        media = "application/x-ndjson" if want_json else "x-application/hl7-v2+er7"
        return Response(text, media_type=media, headers={"X-IHC-Results": str(len(records)), "X-IHC-Errors": str(errors)})

    async def fhir_ep(request):
        from .fhir import run_fhir

        _need_type(request, _JSON_TYPES, "FHIR JSON")
        data = await _body(request, max_body)
        try:
            text, records = run_fhir(data, model=model)
        except InputError as exc:
            raise HTTPError(400, " ".join(str(exc).split())) from None
        errors = sum(1 for r in records if r.get("status") == "error")
        return Response(text, media_type="application/fhir+json", headers={"X-IHC-Errors": str(errors)})

    async def health(request):
        return JSONResponse({"status": "ok", "ihc": ihc.__version__, "model": model_info})

    async def schema_ep(request):
        from ..schema import load_schema

        try:
            return JSONResponse(load_schema(request.query_params.get("which", "classify")))
        except InputError as exc:
            raise HTTPError(400, str(exc)) from None

    spec = openapi_spec()

    async def openapi(request):
        return JSONResponse(spec)

    async def docs(request):
        return HTMLResponse(_docs_html(spec))

    async def page(request):
        return HTMLResponse(_page())

    routes = [Route("/", page), Route("/docs", docs), Route("/openapi.json", openapi),
              Route("/v1/health", health), Route("/v1/schema", schema_ep),
              Route("/v1/classify", classify_ep, methods=["POST"]), Route("/v1/batch", batch_ep, methods=["POST"]),
              Route("/v1/hl7", hl7_ep, methods=["POST"]), Route("/v1/fhir", fhir_ep, methods=["POST"])]
    from starlette.middleware import Middleware

    return Starlette(routes=routes, middleware=[Middleware(Guard)],
                     exception_handlers={HTTPError: on_http_error, HTTPException: on_starlette_http})


def _docs_html(spec):
    import html

    rows = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                        f"<td>{html.escape(op.get('summary', ''))}</td></tr>")
    return ("<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content='width=device-width'>"
            "<title>ihc API</title><style>body{font:15px system-ui,sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
            "td{padding:.3em .6em;border-bottom:1px solid #ddd;vertical-align:top}</style>"
            f"<h1>ihc API {html.escape(spec['info']['version'])}</h1><p>{html.escape(spec['info']['description'])}</p>"
            "<p>Machine-readable: <a href=/openapi.json>/openapi.json</a> (OpenAPI 3.1). Errors are JSON "
            "<code>{\"error\", \"status\"}</code>.</p><table>" + "".join(rows) + "</table></html>")


def _read_token(token_file):
    if token_file is None:
        return None
    try:
        token = Path(token_file).read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--token-file {token_file}: cannot be read ({exc.__class__.__name__})") from None
    if not token or not token[0].strip():
        raise InputError(f"--token-file {token_file} is empty: put the bearer token on its first line")
    return token[0].strip()


_ENV = "IHC_SERVE_CONFIG"


def _app_from_env():
    """The app of one worker process (``--workers`` > 1): settings from the parent, never the token itself."""
    cfg = json.loads(os.environ[_ENV])
    return create_app(token=_read_token(cfg["token_file"]), max_body=cfg["max_body"], model=cfg["model"])


def serve(*, host="127.0.0.1", port=8000, token_file=None, max_body=DEFAULT_MAX_BODY, model=None, workers=1, log=None):
    """Run the service with uvicorn until interrupted (the model is checked before it binds).

    ``workers`` > 1 runs that many processes (each loads and checks the model once).
    """
    need("uvicorn", "ihc serve")
    import uvicorn

    token = _read_token(token_file)
    app = create_app(token=token, max_body=max_body, model=model)  # checks the model before binding
    if log:
        log(f"ihc serve: http://{host}:{port}/ (API docs /docs); model checked; "
            + ("bearer token required" if token else "no token") + f"; body limit {max_body} bytes"
            + (f"; {workers} workers" if workers > 1 else ""))
    # keep-alive longer than an interface engine's pause between messages (uvicorn's default is 5 s)
    opts = dict(host=host, port=port, log_level="warning", access_log=False, server_header=False,
                timeout_keep_alive=75)
    if workers > 1:
        os.environ[_ENV] = json.dumps({"token_file": None if token_file is None else str(Path(token_file).resolve()),
                                       "max_body": max_body, "model": None if model is None else str(model)})
        uvicorn.run("ihc.lis.serve:_app_from_env", factory=True, workers=workers, **opts)
    else:
        uvicorn.run(app, **opts)
