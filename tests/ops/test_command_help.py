"""Every argument of every command of ours says what it does and, where it has a default, what that is."""

from __future__ import annotations

import argparse

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.base import BaseCommand

APPS = ("recommendations", "analytics", "privacy")
COMMANDS = sorted((app, name) for name, app in get_commands().items() if app in APPS)
FLAGS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._StoreConstAction, argparse._HelpAction)


def _own_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The command's arguments, without the options every Django command has (--verbosity, --settings...)."""
    common = {action.dest for action in BaseCommand().create_parser("manage.py", "base")._actions}
    return [action for action in parser._actions if action.dest not in common]


def test_the_commands_of_every_app_are_found() -> None:
    names = {name for _, name in COMMANDS}
    assert {"seed_recommendations", "train_recommendations", "seed_demo_events", "forget_user"} <= names


@pytest.mark.parametrize(("app", "name"), COMMANDS, ids=[name for _, name in COMMANDS])
def test_every_argument_has_help_showing_its_default(app: str, name: str) -> None:
    command = load_command_class(app, name)
    assert command.help, f"{name} has no help"
    parser = command.create_parser("manage.py", name)
    formatter = parser._get_formatter()
    for action in _own_actions(parser):
        label = "/".join(action.option_strings) or action.dest
        assert action.help, f"{name} {label} has no help"
        assert action.help != argparse.SUPPRESS, f"{name} {label} hides its help"
        text = formatter._expand_help(action)
        if action.required or not action.option_strings:
            continue  # required: there is no default to show
        assert "default" in text or "this or" in text, f"{name} {label}: the help does not say the default: {text!r}"
        if action.default is not None and not isinstance(action, FLAGS):
            assert str(action.default) in text, f"{name} {label}: the help does not show {action.default!r}: {text!r}"


def test_help_prints_the_expanded_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    parser = load_command_class("recommendations", "seed_recommendations").create_parser("manage.py", "x")
    parser.print_help()
    assert "(default: 50)" in " ".join(capsys.readouterr().out.split())
