"""The CLI refuses a malformed number in an option with a usage error, never a traceback."""

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.settings import get_settings

runner = CliRunner()
NOT_WHOLE_NUMBERS = ["²", "١", "1.5", "-1", "x", "99999999999"]  # "²".isdigit() holds, int("²") fails


@pytest.fixture(autouse=True)
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("TWINNING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("value", NOT_WHOLE_NUMBERS)
def test_runs_diff_refuses_an_against_that_is_not_a_run_id(value):
    r = runner.invoke(app, ["runs", "diff", "1", "--against", value])
    assert r.exit_code == 2 and not isinstance(r.exception, (ValueError, OverflowError)), r.output
    assert "--against takes a run id or PREVIOUS" in " ".join(r.output.split())


@pytest.mark.parametrize("value", NOT_WHOLE_NUMBERS)
def test_pair_refuses_a_capacity_that_is_not_a_whole_number(value):
    r = runner.invoke(app, ["pair", "world-cities-eu-korea-2017-18", "--capacity", f"seoul={value}"])
    assert r.exit_code == 2 and not isinstance(r.exception, (ValueError, OverflowError)), r.output
    assert "--capacity takes ID=N with N a whole number" in " ".join(r.output.split())


@pytest.mark.parametrize("value", ["99999999999999999999", "2147483648", "0"])
def test_runs_diff_refuses_a_run_id_no_database_holds(value):
    r = runner.invoke(app, ["runs", "diff", value])
    assert r.exit_code == 2 and not isinstance(r.exception, (ValueError, OverflowError)), r.output


@pytest.mark.parametrize("value", ["²m", "١h", "-5m", "0m", "1.2.3h", "m", "5w"])
def test_rerank_refuses_an_interval_that_is_not_one(value):
    r = runner.invoke(app, ["rerank", "--every", value])
    assert r.exit_code == 2 and not isinstance(r.exception, (ValueError, OverflowError)), r.output
    assert "is not an interval such as 30m" in " ".join(r.output.split())
