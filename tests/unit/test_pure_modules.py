"""Numeric modules (NAV arithmetic, calendar, identifiers, the basket engine) stay pure: importing them must not import Django."""

import subprocess
import sys

import pytest

PURE_MODULES = [
    "funds.nav_math",
    "funds.business_calendar",
    "funds.identifiers",
    "baskets.engine",
    "baskets.engine.errors",
    "baskets.engine.metrics",
    "baskets.engine.risk",
    "baskets.engine.optimizer",
    "baskets.engine.quantities",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_module_does_not_import_django(module):
    code = f"import sys, {module}; sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)"
    # run from the repo root without DJANGO_SETTINGS_MODULE, so nothing else pulls Django in
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": "."})
    assert result.returncode == 0, f"{module} imports Django: {result.stderr}"
