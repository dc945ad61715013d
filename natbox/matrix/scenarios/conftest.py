"""The matrix's scenarios are ordinary natbox.hil tests; this adds the ``cell`` fixture and the
matrix's options (natbox.matrix.record)."""

from natbox.matrix.record import (
    cell,
    nat_behaviour,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtest_makereport,
)

__all__ = ["cell", "nat_behaviour", "pytest_addoption", "pytest_collection_modifyitems",
           "pytest_configure", "pytest_runtest_makereport"]  # fmt: skip
