"""The click options are made from the config dataclasses: one default, written once."""

import dataclasses
import json

import pytest
from click.testing import CliRunner

from scenegan import config as C
from scenegan.cli import cli

COMMANDS = {
    "build-dataset": C.BuildConfig,
    "sample": C.SampleConfig,
    "evaluate": C.EvaluateConfig,
    "train": C.TrainConfig,
    "serve": C.ServeConfig,
}


def _plain(value):
    return json.loads(json.dumps(value, default=str))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_dry_run_prints_the_dataclass_defaults(command):
    result = CliRunner().invoke(cli, [command, "--dry-run"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output[: result.output.rindex("}") + 1])
    assert printed == _plain(dataclasses.asdict(COMMANDS[command]()))


@pytest.mark.parametrize("command", sorted(COMMANDS) + ["fetch", "demo"])
def test_every_option_is_a_config_field_with_its_default(command):
    config = {**COMMANDS, "fetch": C.FetchConfig, "demo": C.DemoConfig}[command]
    fields = {f.name: f for f in dataclasses.fields(config)}
    fields |= (
        {f.name: f for f in dataclasses.fields(C.FilterConfig)}
        if command == "build-dataset"
        else {}
    )
    for param in cli.commands[command].params:
        if param.name in ("dry_run", "help") and param.name not in fields:
            continue
        assert param.name in fields, f"{command} --{param.name} is not a field of {config.__name__}"
        spec = fields[param.name]
        default = spec.default if spec.default is not dataclasses.MISSING else None
        if spec.default_factory is not dataclasses.MISSING:
            default = spec.default_factory()
        if isinstance(default, tuple) and not param.multiple:
            default = ",".join(default)
        assert param.default == default or (param.required and default is None), param.name
