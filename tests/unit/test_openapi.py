"""The two OpenAPI documents (``/openapi.json`` of ``/chat``, ``/v1/openapi.json`` of the
Assistants API) are valid OpenAPI, every reference in them resolves, they carry the project's
title and version, and they document every status a route can answer, in its API's error
shape; both are served, with Swagger UI, by the functions themselves."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from openapi_spec_validator import validate

from mojang_chat import __version__, container
from mojang_chat.http.chat import chat_api
from mojang_chat.http.resolver import JsonApi
from mojang_chat.http.v1 import v1_api
from tests.helpers import ROOT, LambdaContext, load_event

# The statuses the resolver answers before any route runs (invalid body, secret, size, API
# Gateway's throttling, a broken configuration): every operation can answer them.
BEFORE_ROUTING = {"400", "401", "413", "429", "500"}
APIS = {
    "/openapi.json": (chat_api, "/docs", "ChatErrorResponse", "mojang-chat"),
    "/v1/openapi.json": (v1_api, "/v1/docs", "OpenAIErrorResponse", "mojang-chat Assistants API"),
}


@pytest.fixture(autouse=True)
def _fresh_resolvers() -> Iterator[None]:
    container.reset()
    yield
    container.reset()


def document(path: str) -> dict[str, Any]:
    return APIS[path][0]().openapi_document()


def get(app: JsonApi, path: str) -> dict[str, Any]:
    event = load_event("runs-retrieve.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return app.resolve(event, LambdaContext())  # type: ignore[arg-type]


@pytest.mark.parametrize("path", APIS)
def test_the_document_is_valid_openapi_and_every_reference_resolves(path: str) -> None:
    spec = document(path)

    validate(spec)  # raises on an invalid document, and on a $ref that does not resolve

    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(spec)))
    schemas = spec["components"]["schemas"]
    assert refs, "the document references its schemas"
    dangling = {ref for ref in refs if ref.removeprefix("#/components/schemas/") not in schemas}
    assert not dangling


@pytest.mark.parametrize("path", APIS)
def test_the_document_has_the_projects_title_and_version(path: str) -> None:
    info = document(path)["info"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())

    assert info["title"] == APIS[path][3]
    assert info["version"] == __version__
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"]["attr"].endswith("__version__")


@pytest.mark.parametrize("path", APIS)
def test_every_operation_documents_its_statuses_in_the_apis_error_shape(path: str) -> None:
    spec = document(path)
    shape = f"#/components/schemas/{APIS[path][2]}"
    operations = [op for item in spec["paths"].values() for op in item.values()]
    assert operations

    for operation in operations:
        responses = operation["responses"]
        missing = BEFORE_ROUTING - set(responses)
        if "requestBody" in operation:
            missing |= {"415"} - set(responses)
        assert not missing, (operation["operationId"], missing)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": shape}, (operation["operationId"], status)
    # Powertools' own 422 shape is not this API's: it is never documented.
    assert "HTTPValidationError" not in json.dumps(spec)


@pytest.mark.parametrize("path", APIS)
def test_the_function_serves_its_document_and_swagger_ui(path: str) -> None:
    app = APIS[path][0]()

    served = get(app, path)
    page = get(app, APIS[path][1])

    assert served["statusCode"] == 200
    assert json.loads(served["body"]) == app.openapi_document()
    assert page["statusCode"] == 200
    assert page["headers"]["Content-Type"] == "text/html"
    assert "SwaggerUIBundle" in page["body"]
    assert f"<title>{APIS[path][3]}</title>" in page["body"]
    assert '"title": "Powertools' not in page["body"]
