"""The matrix's scenarios are ordinary natbox.hil tests; this adds the ``cell`` fixture and
``--natbox-matrix-out`` (natbox.matrix.record)."""

from natbox.matrix.record import cell, pytest_addoption, pytest_configure, pytest_runtest_makereport

__all__ = ["cell", "pytest_addoption", "pytest_configure", "pytest_runtest_makereport"]
