"""Shell completion for `zoo`, written from its own argument parser: commands, their options and model keys.

    eval "$(zoo completion bash)"      # in ~/.bashrc
    eval "$(zoo completion zsh)"       # in ~/.zshrc (through zsh's bash completion layer)
"""

from __future__ import annotations

import argparse
import shlex

from zoo.specfile import spec_paths

SHELLS = ("bash", "zsh")
KEYED_COMMANDS = ("show", "build", "bench")  # commands whose positional argument is a model key


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    actions = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return dict(actions[0].choices) if actions else {}


def _words(parser: argparse.ArgumentParser) -> list[str]:
    """What may follow a command: its subcommands and its options."""
    options = [option for action in parser._actions for option in action.option_strings if option.startswith("--")]
    return sorted(_subcommands(parser)) + sorted(set(options) - {"--help"})


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """A script that completes `zoo` in bash or zsh; the model keys are today's spec files."""
    if shell not in SHELLS:
        raise ValueError(f"unknown shell '{shell}'; accepted: {', '.join(SHELLS)}")
    keys = " ".join(path.stem for path in spec_paths())
    cases = []
    for name, subparser in _subcommands(parser).items():
        words = " ".join(_words(subparser)) + (f" {keys}" if name in KEYED_COMMANDS else "")
        cases.append(f"        {shlex.quote(name)}) words={shlex.quote(words)} ;;")
    top = " ".join(_words(parser))
    script = f"""_zoo() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} words
    if [ "$COMP_CWORD" -eq 1 ]; then
        words={shlex.quote(top)}
    else
        case "${{COMP_WORDS[1]}}" in
{chr(10).join(cases)}
        *) words="" ;;
        esac
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _zoo zoo
"""
    if shell == "zsh":
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    return script
