"""`manage.py check --deploy` with production settings reports nothing, not even a warning."""

from __future__ import annotations

import secrets

from tests.reliability.support import manage, process_env, record_figure


def test_check_deploy_with_production_settings_has_no_warnings() -> None:
    env = process_env(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="api.musicbud.example",
        CSRF_TRUSTED_ORIGINS="https://api.musicbud.example",
    )
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    record_figure("check_deploy", exit_code=result.returncode, issues=0)
