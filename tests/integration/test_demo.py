"""The demo (``python -m mojang_chat demo``, what ``make demo`` runs): on the configured model,
else on the package's stand-ins, with nothing imported from tests/."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import requests

from mojang_chat.local import demo
from mojang_chat.local.standins import MERRYDITH_UUID, SAMPLE_PLAYERS
from tests.helpers import ROOT, TUTORIAL

# Run in a fresh interpreter from the repository root, where `tests` is importable (as it is
# for `make demo`): the real command line serves the offline demo on a free port, while a
# thread asks it one question, reads the page, lists the modules loaded by then and ends it
# with SIGTERM, as Ctrl-C would.
DEMO_SCRIPT = r"""
import json, os, signal, socket, sys, threading, time, urllib.request

from mojang_chat.local import cli

with socket.socket() as probe:
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
url = f"http://127.0.0.1:{port}"
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
found = {}

def visit():
    try:
        for _ in range(600):
            try:
                found["page"] = http.open(url + "/", timeout=5).read().decode()
                break
            except OSError:
                time.sleep(0.05)
        question = json.dumps({"message": sys.argv[1]}).encode()
        ask = urllib.request.Request(
            url + "/chat", data=question, headers={"Content-Type": "application/json"}
        )
        found["answer"] = json.loads(http.open(ask, timeout=60).read())["answer"]
    except Exception as error:
        found["error"] = repr(error)
    finally:
        found["modules"] = sorted(sys.modules)
        os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=visit, daemon=True).start()
found["status"] = cli.main(["demo", "--offline", "--port", str(port)])
print("RESULT " + json.dumps(found))
"""


@pytest.mark.timeout(180)
def test_the_offline_demo_runs_without_tests() -> None:
    # When the demo command runs in a process of its own, offline
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", DEMO_SCRIPT, TUTORIAL],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stdout + done.stderr
    result = json.loads(lines[-1].removeprefix("RESULT "))
    # Then it served the page with the offline notice and answered from the sample players
    assert "error" not in result, result["error"]
    assert result["status"] == 0
    assert "Offline demo: a scripted stand-in model answers" in result["page"]
    assert MERRYDITH_UUID in result["answer"]
    assert 'try: "what is the id of the player username merrydith"' in done.stdout
    # And, though tests/ was importable, nothing from it was loaded (nor jsonschema with it)
    modules = result["modules"]
    assert "mojang_chat.local.standins.model" in modules
    assert [m for m in modules if m == "tests" or m.startswith("tests.")] == []
    assert "jsonschema" not in modules


def test_with_a_model_configured_the_demo_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from mojang_chat import container

    monkeypatch.setenv("OPENAI_API_KEY", "sk-configured")
    monkeypatch.delenv("MINECRAFT_SERVICES_URL", raising=False)
    container.reset()
    with demo.upstreams() as notice:
        assert notice is None
        assert os.environ["OPENAI_API_KEY"] == "sk-configured"
        assert "MINECRAFT_SERVICES_URL" not in os.environ
    container.reset()


@pytest.mark.parametrize(
    ("configured", "offline"), [(False, False), (True, True)], ids=["no-model", "offline"]
)
def test_otherwise_the_demo_runs_on_the_stand_ins(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    configured: bool,
    offline: bool,
) -> None:
    from mojang_chat import container

    if configured:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-configured")
    before = {name: os.environ.get(name) for name in demo.UPSTREAM_VARIABLES}
    container.reset()
    with demo.upstreams(offline=offline) as notice:
        # The notice names sample players, and the environment points at the stand-ins
        assert notice is not None
        assert "Offline demo" in notice
        assert "merrydith" in notice
        assert os.environ["OPENAI_API_KEY"] == "sk-offline-demo"
        mojang = os.environ["MINECRAFT_SERVICES_URL"]
        assert mojang.startswith("http://127.0.0.1:")
        assert os.environ["OPENAI_BASE_URL"].startswith("http://127.0.0.1:")
        player = requests.get(f"{mojang}/minecraft/profile/lookup/name/jeb_", timeout=10).json()
        assert player == {"id": SAMPLE_PLAYERS["jeb_"].id, "name": "jeb_"}
        # The page says so
        page = demo.demo_page(notice=notice).decode()
        assert "Offline demo" in page
    # Then the environment is what it was
    assert {name: os.environ.get(name) for name in demo.UPSTREAM_VARIABLES} == before
    # Printing is the command's business (demo on stdout, ask on stderr), not the stand-ins'
    assert capsys.readouterr().out == ""


def test_the_command_line_offers_offline_for_the_demo_only() -> None:
    from mojang_chat.local import cli

    assert cli.parser().parse_args(["demo", "--offline"]).offline is True
    assert cli.parser().parse_args(["demo"]).offline is False
    with pytest.raises(SystemExit):
        cli.parser().parse_args(["serve", "--offline"])
