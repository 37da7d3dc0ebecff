import os
import subprocess
import sys


def test_production_settings_pass_check_deploy_without_warnings():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings_production",
        "SECRET_KEY": "x7$kq!2vN9wLp#4rT8zYb6mHc1dF5gJ0sA3eU-iO_pQ^lR&nW*yK+Zt",
        "ALLOWED_HOSTS": "etf.example.com",
        "DEBUG": "0",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_a_missing_secret_key():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "backoffice.settings_production", "SECRET_KEY": ""}
    result = subprocess.run([sys.executable, "manage.py", "check"], capture_output=True, text=True, env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
