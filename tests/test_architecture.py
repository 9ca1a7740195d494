"""The shape the layout keeps: one concern per module, none of app code over 400 lines.
(Which app may import which is import-linter's part of `make check`.)"""

from tests.support.services import ROOT

APPS = ("civicpulse", "tenants", "issues", "reports", "llm", "analytics")
MAX_LINES = 400


def test_no_module_of_app_code_is_over_400_lines() -> None:
    modules = [
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.relative_to(ROOT).parts
    ]
    assert len(modules) > 150  # the walk found the apps
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in modules
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}
