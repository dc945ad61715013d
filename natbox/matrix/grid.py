"""``@scenario("pptp")`` makes a test one row of the matrix: every NAT profile x the row's
switch on and off (natbox.matrix.expect.ROWS says which passthrough) x one or two clients."""

from __future__ import annotations

import pytest

from natbox.hil import PROFILE_NAMES
from natbox.matrix.expect import ROWS

CLIENTS = (1, 2)


def scenario(row: str):
    switch = ROWS[row].switch
    marks = [
        pytest.mark.matrix(row),
        pytest.mark.natbox(profile=list(PROFILE_NAMES), passthrough={switch: [True, False]}),
        pytest.mark.parametrize("clients", CLIENTS, ids=lambda n: f"{n}client"),
    ]

    def decorate(function):
        for mark in marks:
            function = mark(function)
        return function

    return decorate
