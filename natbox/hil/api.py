"""The router's REST API as its administrator: natbox.firmware.flash.Api (the session cookie,
the CSRF token) logged in, the factory password replaced at the first login as the UI demands,
a lost session (a reboot, an idle timeout) logged into again, and answers that raise on an
error with the field the router named."""

from __future__ import annotations

import json
from typing import Any

from natbox.firmware.flash import Answer, Api, Unreachable

ADMIN = "admin"
FACTORY_PASSWORD = "admin"
OK = (200, 201, 202)


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, answer: Answer):
        self.status, self.field = answer.status, answer.field
        where = f" (field {self.field})" if self.field else ""
        super().__init__(f"{method} {path}: {answer.message}{where}")


def admin_session(base_url: str, password: str) -> Api:
    """Logged in as the administrator with ``password``; a router still on the factory
    password first gets ``password`` as its new one."""
    api = Api(base_url.rstrip("/"))
    answer = api.login(ADMIN, password)
    if answer.status == 401 and password != FACTORY_PASSWORD:
        api.login(ADMIN, FACTORY_PASSWORD)
        new = {"current_password": FACTORY_PASSWORD, "new_password": password,
               "confirm_password": password}  # fmt: skip
        changed = api.call("PUT", "/system/password", json_body=new)
        if changed.status not in OK:
            raise ApiError("PUT", "/system/password", changed)
        answer = api.login(ADMIN, password)
    if answer.status not in OK:
        raise ApiError("POST", "/session", answer)
    return api


class RouterApi:
    """``get``/``put``/``post``/``delete`` of /api/v1 paths, returning the decoded JSON."""

    def __init__(self, base_url: str, password: str):
        self.base_url, self.password = base_url, password
        self.session: Api | None = None

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30,
                query: dict[str, str] | None = None) -> Any:  # fmt: skip
        for attempt in (1, 2):
            if self.session is None:
                self.session = admin_session(self.base_url, self.password)
            answer = self.session.call(method, path, json_body=body, query=query, timeout=timeout)
            if answer.status != 401 or attempt == 2:
                break
            self.session = None  # the router forgot us (it restarted): log in again
        if answer.status not in OK:
            raise ApiError(method, path, answer)
        return json.loads(answer.body) if answer.body else None

    def get(self, path: str, **query: str) -> Any:
        return self.request("GET", path, query=query or None)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def post(self, path: str, body: Any = None) -> Any:
        return self.request("POST", path, {} if body is None else body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


__all__ = ["ApiError", "RouterApi", "Unreachable", "admin_session"]
