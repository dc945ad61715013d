"""Check an API response against the OpenAPI document (used by the API tests)."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

from webui.openapi import openapi_document

DOCUMENT = openapi_document()


def _template(path: str) -> str:
    for template in DOCUMENT["paths"]:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return template
    raise AssertionError(f"{path} is not in the OpenAPI document")


def check_response(method: str, path: str, response) -> None:
    """The status is documented for the operation and the body validates against its schema."""
    path = path.split("?")[0]
    operation = DOCUMENT["paths"][_template(path)].get(method.lower())
    assert operation, f"{method} {path} is not documented"
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method} {path}: status {response.status_code} is not documented"
    mimetype = response.mimetype
    assert mimetype in documented["content"], f"{method} {path}: {mimetype} not documented"
    if mimetype != "application/json":
        return
    schema = {**DOCUMENT, **documented["content"][mimetype]["schema"]}  # refs resolve in DOCUMENT
    errors = sorted(Draft202012Validator(schema).iter_errors(response.json), key=str)
    assert not errors, f"{method} {path}: {errors[0].message} at {list(errors[0].path)}"
