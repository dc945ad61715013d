"""The OpenAPI document matches the implementation: every API route with its methods, and
the responses the API gives (tests/webui/test_api.py) validate against its schemas."""

import re

import pytest
from jsonschema import Draft202012Validator
from openapi_check import DOCUMENT, check_response

from webui.openapi import openapi_document


def api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            yield path, {m.lower() for m in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_api_route_is_documented_with_its_methods(app):
    implemented: dict[str, set[str]] = {}
    for path, methods in api_rules(app):
        implemented.setdefault(path, set()).update(methods)
    documented = {path: set(ops) for path, ops in DOCUMENT["paths"].items()}
    assert implemented == documented


def test_every_schema_is_valid_json_schema():
    for schema in DOCUMENT["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_document_is_served_and_is_openapi_3(api):
    response = api.call("GET", "/openapi.json")
    assert response.status_code == 200
    assert response.json == openapi_document()
    assert response.json["openapi"].startswith("3.")
    check_response("GET", "/openapi.json", response)


def test_an_undocumented_status_fails_the_check(api):
    response = api.call("GET", "/status")
    response.status_code = 418
    with pytest.raises(AssertionError):
        check_response("GET", "/status", response)
