"""Settings come from an environment mapping, and every problem is reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import (
    DEFAULT_REFRESH_CRON,
    DEFAULT_SLACK_API_URL,
    SettingsError,
    load_settings,
)
from segmentation.schema import SchemaOverrides
from segmentation.sources import FileSource, SqlSource

SOCKET_ENV = {"SLACK_BOT_TOKEN": "xoxb-1-abc", "SLACK_APP_TOKEN": "xapp-1-abc"}
HTTP_ENV = {"SLACK_BOT_TOKEN": "xoxb-1-abc", "SLACK_SIGNING_SECRET": "s3cret"}


def problems(environ: dict[str, str], **kwargs: bool) -> tuple[str, ...]:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ, **{"require_slack": True, **kwargs})
    return caught.value.problems


def test_defaults_without_slack() -> None:
    settings = load_settings({}, require_slack=False)
    assert settings.db_path == Path("segbot.db")
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL
    assert settings.refresh_cron == DEFAULT_REFRESH_CRON
    assert settings.timezone == "UTC"
    assert settings.allowed_users == settings.allowed_channels == frozenset()
    assert settings.data_source is None and settings.digest_channel is None
    assert settings.port is None  # HTTP then listens on 3000; Socket Mode serves no /health
    assert settings.chart_processes == 2


def test_an_app_token_means_socket_mode_and_its_absence_http() -> None:
    settings = load_settings(SOCKET_ENV, require_slack=True)
    assert settings.socket_mode and settings.app_token == "xapp-1-abc"
    settings = load_settings(HTTP_ENV, require_slack=True)
    assert not settings.socket_mode and settings.signing_secret == "s3cret"
    both = load_settings({**SOCKET_ENV, **HTTP_ENV}, require_slack=True)
    assert both.socket_mode  # as the shipped manifest is set up


def test_without_app_token_or_signing_secret_start_up_names_both_ways() -> None:
    [bot, transport] = problems({})
    assert bot.startswith("SLACK_BOT_TOKEN is not set")
    assert transport.startswith("SLACK_SIGNING_SECRET is not set (nor SLACK_APP_TOKEN")
    assert "for Socket Mode" in transport and "to serve HTTP" in transport


def test_http_can_be_forced_and_then_needs_the_signing_secret() -> None:
    settings = load_settings({**SOCKET_ENV, **HTTP_ENV}, require_slack=True, http=True)
    assert not settings.socket_mode
    assert problems(SOCKET_ENV, http=True) == ("SLACK_SIGNING_SECRET is not set "
                                               "(needed to serve HTTP)",)
    assert [p.split()[0] for p in problems(HTTP_ENV, http=False)] == ["SLACK_APP_TOKEN"]


def test_every_bad_variable_is_listed_in_one_error(tmp_path: Path) -> None:
    listed = problems({
        "SLACK_BOT_TOKEN": "xapp-wrong-kind",
        "SLACK_APP_TOKEN": "xoxb-wrong-kind",
        "SEGBOT_DB": str(tmp_path),
        "SEGBOT_SLACK_API_URL": "slack.com/api",
        "SEGBOT_ALLOWED_CHANNELS": "C0123ABC, #marketing",
        "SEGBOT_ALLOWED_USERS": "U0123ABC,alice",
        "SEGBOT_DIGEST_CHANNEL": "#general",
        "SEGBOT_REFRESH_CRON": "every monday",
        "SEGBOT_TIMEZONE": "Mars/Olympus",
        "SEGBOT_KEEP_RUNS": "1",
        "SEGBOT_CHART_PROCESSES": "two",
        "PORT": "http",
    })
    named = [p.split(":")[0].split()[0] for p in listed]
    assert named == ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SEGBOT_DB", "SEGBOT_SLACK_API_URL",
                     "SEGBOT_ALLOWED_CHANNELS", "SEGBOT_ALLOWED_USERS", "PORT",
                     "SEGBOT_DIGEST_CHANNEL", "SEGBOT_REFRESH_CRON", "SEGBOT_TIMEZONE",
                     "SEGBOT_KEEP_RUNS", "SEGBOT_CHART_PROCESSES"]
    text = "\n".join(listed)
    assert "'#marketing'" in text and "'alice'" in text and "is a folder" in text


@pytest.mark.parametrize("raw", ["-1", "17", "1.5"])
def test_chart_processes_is_a_small_count(raw: str) -> None:
    [problem] = problems({**SOCKET_ENV, "SEGBOT_CHART_PROCESSES": raw})
    assert problem.startswith("SEGBOT_CHART_PROCESSES") and "0-16" in problem


@pytest.mark.parametrize("cron, why", [
    ("61 6 * * mon", "the last value (61) is higher than the maximum value (59)"),
    ("0 6 * *", "it has 4 field(s), not 5"),
    ("0 6 * * funday", 'Invalid weekday name "funday"'),
    ("0 6 * * 8", "'8' is not a weekday (0-7, 0 and 7 = Sunday, or sun-sat)"),
    ("0 6 * * 5-1", "weekday range '5-1' runs backwards"),
    ("0 6 * * */0", "weekday step /0 is not a whole number of days of 1 or more"),
    ("0 6 31 2 *", "it names no date that exists (such as 31 February): it would never run"),
    ("0 6 31 4,6,9,11 *", "it names no date that exists (such as 31 February): it would "
     "never run"),
    ("0 6 1 * mon", "it sets both a day of the month and a weekday, which cron reads as "
     "either and this scheduler as both: set one of them to *"),
])
def test_a_bad_refresh_cron_is_refused_saying_why(cron: str, why: str) -> None:
    [problem] = problems({**SOCKET_ENV, "SEGBOT_REFRESH_CRON": cron})
    assert problem.startswith(f"SEGBOT_REFRESH_CRON: {cron!r} is not a crontab line "
                              "(minute hour day month weekday, e.g. '0 6 * * mon'): ")
    assert problem.endswith(why)


@pytest.mark.parametrize("cron", ["0 6 * * 7", "0 6 * * 5-7", "0 6 * * 0,7", "0 6 * * 1-7/2",
                                  "0 6 29 2 *"])  # leap years only, but it runs
def test_sunday_may_be_written_7_and_rare_days_are_kept(cron: str) -> None:
    assert load_settings({"SEGBOT_REFRESH_CRON": cron}, require_slack=False).refresh_cron == cron


def test_values_are_parsed() -> None:
    settings = load_settings({
        **SOCKET_ENV,
        "SEGBOT_DB": "/var/lib/segbot/segbot.db",
        "SEGBOT_SLACK_API_URL": "http://127.0.0.1:8080/api",
        "SEGBOT_ALLOWED_CHANNELS": " C0123ABC ,G0456DEF,",
        "SEGBOT_ALLOWED_USERS": "U0123ABC",
        "SEGBOT_DATA": "/data/customers.csv",
        "SEGBOT_DIGEST_CHANNEL": "C0DIGEST",
        "SEGBOT_REFRESH_CRON": "30 7 * * 1-5",
        "SEGBOT_TIMEZONE": "Europe/Paris",
        "SEGBOT_KEEP_RUNS": "12",
        "SEGBOT_CHART_PROCESSES": "0",
        "PORT": "8000",
    }, require_slack=True)
    assert settings.keep_runs == 12
    assert settings.chart_processes == 0  # charts drawn in the bot's own process
    assert load_settings(SOCKET_ENV, require_slack=True).keep_runs is None  # keep every run
    assert settings.slack_api_url == "http://127.0.0.1:8080/api/"  # joined onto, so a slash
    assert settings.allowed_channels == {"C0123ABC", "G0456DEF"}
    assert settings.data_source == FileSource(Path("/data/customers.csv"))
    assert settings.tzinfo.key == "Europe/Paris"
    assert (settings.digest_channel, settings.refresh_cron, settings.port) == (
        "C0DIGEST", "30 7 * * 1-5", 8000)


def test_secrets_stay_out_of_repr() -> None:
    settings = load_settings({**SOCKET_ENV, "SLACK_SIGNING_SECRET": "s3cret"},
                             require_slack=True)
    assert "xoxb" not in repr(settings) and "s3cret" not in repr(settings)


def test_allow_lists_restrict_customer_data() -> None:
    everyone = load_settings({}, require_slack=False)
    assert everyone.may_see_customers("U0ANYONE", "C0ANYWHERE")
    restricted = load_settings({"SEGBOT_ALLOWED_USERS": "U0ALICE",
                                "SEGBOT_ALLOWED_CHANNELS": "C0CRM"}, require_slack=False)
    assert restricted.may_see_customers("U0ALICE", "C0CRM")
    assert not restricted.may_see_customers("U0BOB", "C0CRM")
    assert not restricted.may_see_customers("U0ALICE", "C0GENERAL")


def test_a_database_url_reads_the_table_setting_and_keeps_its_password_out_of_repr() -> None:
    settings = load_settings({"SEGBOT_DATA": "postgresql://ann:pw-5Jx@db/crm",
                              "SEGBOT_TABLE": "customers"}, require_slack=False)
    assert settings.data_source == SqlSource("postgresql://ann:pw-5Jx@db/crm", table="customers")
    assert "pw-5Jx" not in repr(settings)
    assert settings.data_source.describe() == "postgresql://ann:***@db/crm (table customers)"


def test_segbot_schema_is_read_at_start_up_and_may_name_the_table(tmp_path: Path) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text('table = "customers"\ndrop = ["Z_Revenue"]\n')
    settings = load_settings({"SEGBOT_DATA": "postgresql://ann@db/crm",
                              "SEGBOT_SCHEMA": str(schema)}, require_slack=False)
    assert settings.schema_file == schema
    assert settings.schema == SchemaOverrides(drop=("Z_Revenue",), table="customers")
    assert settings.data_source == SqlSource("postgresql://ann@db/crm", table="customers")


def test_schema_problems_are_listed_with_the_others(tmp_path: Path) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text('table = "customers"\n')
    listed = problems({**SOCKET_ENV, "SEGBOT_DATA": "postgresql://ann@db/crm",
                       "SEGBOT_TABLE": "orders", "SEGBOT_SCHEMA": str(schema)})
    assert listed == ("SEGBOT_DATA: SEGBOT_TABLE orders and SEGBOT_SCHEMA's table customers "
                      "say different things to read: name the table or query in one place",)
    listed = problems({**SOCKET_ENV, "SEGBOT_SCHEMA": str(tmp_path / "nope.toml"),
                       "SEGBOT_DATA": "postgresql://ann@db/crm"})
    assert listed == (f"SEGBOT_SCHEMA: no such schema file: {tmp_path / 'nope.toml'}",
                      "SEGBOT_DATA: postgresql://ann@db/crm is a database: say what to read "
                      "from it with SEGBOT_TABLE or SEGBOT_QUERY (one of them)")


def test_the_engine_is_local_unless_spark_is_asked_for() -> None:
    from bot.settings import DEFAULT_SPARK_MASTER, Engine

    assert load_settings({}, require_slack=False).engine is Engine.LOCAL
    settings = load_settings({"SEGBOT_ENGINE": "Spark",
                              "SEGBOT_SPARK_CONF": "spark.driver.memory=4g;\n"
                                                   "spark.jars=/a.jar,/b.jar"},
                             require_slack=False)
    assert settings.engine is Engine.SPARK and settings.spark_master == DEFAULT_SPARK_MASTER
    assert settings.spark_conf == (("spark.driver.memory", "4g"),
                                   ("spark.jars", "/a.jar,/b.jar"))
    assert load_settings({"SEGBOT_SPARK_MASTER": "spark://head:7077"},
                         require_slack=False).spark_master == "spark://head:7077"


def test_a_bad_engine_and_bad_spark_settings_are_listed_together() -> None:
    listed = problems({"SEGBOT_ENGINE": "dask", "SEGBOT_SPARK_CONF": "driver.memory=4g"},
                      require_slack=False)
    assert any(p.startswith("SEGBOT_ENGINE: 'dask' is not an engine: use local or spark")
               for p in listed)
    assert any(p.startswith("SEGBOT_SPARK_CONF: 'driver.memory=4g' is not spark.") for p in listed)
