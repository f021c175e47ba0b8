"""The command line as a terminal sees it, in a process of its own (as a newcomer runs it):
answers and statuses alone on stdout, so that they can be piped; logs, notes and errors on
stderr; never a library's internals; the README's terminal example runs as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

from mojang_chat.local.standins import MERRYDITH_UUID
from tests.helpers import ROOT

# What the terminal may print on stdout for a run, besides tool calls and the answer.
STATUS_LINES = {"queued", "in progress", "completed", "failed", "incomplete", "cancelled"}
# Signs of something that is not for a terminal's reader.
INTERNALS = ("object at 0x", "moto", "Traceback", '"_aws"', "No application metrics", "StateFail")


def cli_env(**variables: str) -> dict[str, str]:
    """This environment without a configured model (unless ``variables`` configure one), the
    package importable as from a checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    path = [str(ROOT / "layers" / "mojang_chat"), str(ROOT), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    env.update(variables)
    return env


def run_cli(args: list[str], cwd: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """``python -m mojang_chat ARGS`` in ``cwd`` (no .env there), in its own process."""
    return subprocess.run(  # noqa: S603 - this interpreter, the package's own command
        [sys.executable, "-m", "mojang_chat", *args],
        cwd=cwd,
        env=cli_env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def readme_terminal_example() -> tuple[list[str], list[str]]:
    """The README's terminal example: its command's arguments, and the lines it shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"From the terminal.*?```console\n(.*?)```", readme, re.DOTALL)
    assert block, "the README has a terminal example"
    command, *shown = block.group(1).rstrip("\n").split("\n")
    words = shlex.split(command.removeprefix("$ "))
    assert words[:3] == [".venv/bin/python", "-m", "mojang_chat"]
    return words[3:], shown


def test_the_readmes_terminal_example_runs_as_written_without_a_model(tmp_path: Path) -> None:
    # Given a fresh checkout: no model configured, no .env
    args, shown = readme_terminal_example()

    done = run_cli(args, tmp_path)

    # Then it answers from the stand-ins, exactly the lines the README shows ("..." elides)
    assert done.returncode == 0, done.stderr
    printed = done.stdout.rstrip("\n").split("\n")
    assert len(printed) == len(shown), done.stdout
    for line, expected in zip(printed, shown, strict=True):
        pattern = ".*".join(re.escape(part) for part in expected.split("..."))
        assert re.fullmatch(pattern, line), (line, expected)
    # and says so on stderr, not among the answer's lines
    assert "no model is configured" in done.stderr
    assert "stand-in" in done.stderr
    assert not any(sign in done.stdout + done.stderr for sign in INTERNALS)


def test_ask_through_the_workflow_keeps_stdout_to_statuses_and_the_answer(tmp_path: Path) -> None:
    done = run_cli(["ask", "--runs", "what is the id of the player username merrydith"], tmp_path)

    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.split("\n") if line]
    assert lines[0] == "queued"
    assert lines[-1] == f"The UUID of merrydith is {MERRYDITH_UUID}."
    for line in lines[:-1]:
        assert line in STATUS_LINES or line.startswith(("requires action: ", "  \u2192 ")), line
    assert not any(sign in done.stdout + done.stderr for sign in INTERNALS)


def test_a_model_that_cannot_be_reached_is_named_and_nothing_internal_is_printed(
    tmp_path: Path,
) -> None:
    # Given a model URL where nothing listens
    url = f"http://127.0.0.1:{closed_port()}/v1"

    done = run_cli(
        ["ask", "--runs", "what is the id of the player username merrydith"],
        tmp_path,
        OPENAI_BASE_URL=url,
        OPENAI_API_KEY="sk-test",
        MODEL_MAX_RETRIES="1",
    )

    # Then stdout has the statuses alone, and stderr the error, naming the URL
    assert done.returncode == 1
    assert set(done.stdout.split()) <= {"queued", "in", "progress", "failed"}, done.stdout
    assert done.stdout.split("\n")[-2] == "failed"
    last = done.stderr.rstrip("\n").split("\n")[-1]
    assert last == f"error: the run ended as failed: the model server at {url} could not be reached"
    assert not any(sign in done.stdout + done.stderr for sign in INTERNALS), done.stderr
    # and the retries are logged (on stderr) by the function that made the calls
    retries = [
        json.loads(line)
        for line in done.stderr.split("\n")
        if line.startswith("{") and "retrying" in line
    ]
    assert retries
    assert {line["function_name"] for line in retries} == {"RunStepsFunction"}


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_warns_at_start_up_when_the_model_does_not_answer(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    env = cli_env(OPENAI_BASE_URL=url, OPENAI_API_KEY="sk-test")
    command = [sys.executable, "-m", "mojang_chat", "serve", "--port", str(closed_port())]
    with subprocess.Popen(  # noqa: S603 - this interpreter, the package's own command
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as server:
        try:
            assert server.stderr is not None
            warning = server.stderr.readline()
        finally:
            server.terminate()
            stdout, _ = server.communicate(timeout=30)
    # The warning comes before any question, on stderr, naming the URL; stdout has the banner
    assert warning.startswith(f"warning: the model server at {url} does not answer (")
    assert f"model: gpt-4o-mini at {url}" in stdout
    assert "warning" not in stdout


def test_a_model_server_that_takes_connections_draws_no_warning() -> None:
    from mojang_chat.local import demo

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert demo.unanswered(f"http://127.0.0.1:{port}/v1") is None
    assert "does not answer" in (demo.unanswered(f"http://127.0.0.1:{closed_port()}/v1") or "")
