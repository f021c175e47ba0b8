"""The tutorial this project grew from (../shared/reference/tutorial/): its program, read from
the post at run time and changed only where its README allows (``base_url``, and its call of an
undefined ``get_uuid``), runs against ``serve`` to ``completed`` and prints the answer.

It declares its own ``get_uuid_from_username`` and runs it itself on ``requires_action``: the
run waits for the caller's outputs, as the retired Assistants API did. Mojang's servers cannot
be reached from a test, so the program's own lookup is sent to the fake Mojang instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mojang_chat.local.server import running
from mojang_chat.local.standins import MERRYDITH_UUID
from tests.fakes import model_server as fake_model
from tests.helpers import SECRET_KEY, SHARED_REFERENCE, TEMPLATE

POST = SHARED_REFERENCE / "tutorial" / "000_ca1262979af37b40.txt"
QUESTION = "what is the uuid of the player merrydith?"
# Run in the program's interpreter before it starts: its requests to Mojang go to the fake.
REDIRECT = """
import os
import requests

_request = requests.Session.request


def _to_the_fake(self, method, url, *args, **kwargs):
    url = url.replace("https://api.mojang.com", os.environ["FAKE_MOJANG_URL"])
    return _request(self, method, url, *args, **kwargs)


requests.Session.request = _to_the_fake
"""


def tutorial_program(base_url: str) -> str:
    """The post's program, with the two changes its README allows, each made exactly once."""
    post = POST.read_text(encoding="utf-8")
    code = post.split('```python title="python 3.11"\n', 1)[1].split("\n```", 1)[0]
    client = "client = OpenAI(api_key=openai"
    changes = {
        f"{client})": f"{client}, base_url={base_url!r})",
        "output = get_uuid(username=": "output = get_uuid_from_username(username=",
    }
    for old, new in changes.items():
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    return code


def statuses(output: str) -> list[str]:
    """The run statuses the program printed, without repeats."""
    found = re.findall(r'^    "status": "(\w+)"', output, flags=re.MULTILINE)
    return [s for i, s in enumerate(found) if i == 0 or s != found[i - 1]]


@pytest.mark.skipif(not POST.exists(), reason=f"the tutorial is not at {POST} (../shared absent)")
def test_the_tutorials_program_runs_unchanged_but_base_url(app_env: Any, tmp_path: Path) -> None:
    # Given the local server, a model that calls the tutorial's own tool and then answers
    model, mojang = app_env
    model.script(
        fake_model.tool_calls(("get_uuid_from_username", {"username": "merrydith"})),
        fake_model.answer_from_tools(),
    )
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(REDIRECT, encoding="utf-8")
    with running(TEMPLATE) as server:
        program = tmp_path / "tutorial.py"
        program.write_text(tutorial_program(f"{server.url}/v1"), encoding="utf-8")
        environment = {
            **os.environ,
            "PYTHONPATH": str(site),
            "OPENAI_API_KEY": SECRET_KEY,
            "FAKE_MOJANG_URL": mojang.url,
        }

        # When it runs, asked the question on its standard input
        done = subprocess.run(  # noqa: S603 (the post's program: what this test is about)
            [sys.executable, str(program)],
            input=QUESTION + "\n",
            capture_output=True,
            text=True,
            timeout=120,
            env=environment,
            cwd=tmp_path,
            check=False,
        )

    # Then it waited on requires_action, ran its own tool, and printed the answer
    assert done.returncode == 0, done.stderr[-3000:]
    seen = statuses(done.stdout)
    assert seen[0] == "queued"
    assert "requires_action" in seen
    assert seen[-1] == "completed"
    assert "Function Calling" in done.stdout
    assert "Submitting outputs back to the Assistant..." in done.stdout
    assert re.search(rf"^Assistant: .*{MERRYDITH_UUID}", done.stdout, flags=re.MULTILINE)
    assert re.search(rf"^User: {re.escape(QUESTION)}$", done.stdout, flags=re.MULTILINE)
    # And the lookup was the program's own (the fake Mojang saw the tutorial's request)
    assert "/users/profiles/minecraft/merrydith" in [r.path for r in mojang.requests()]
    # And the model was told the run's instructions, in place of the assistant's, and
    # offered the caller's tool as the caller declared it
    first = model.requests[0].body
    system = [m["content"] for m in first["messages"] if m["role"] == "system"]
    assert "Please address the user as Johnny Appleseed" in system
    assert not any("caters to any task" in text for text in system)
    [own] = [t for t in first["tools"] if t["function"]["name"] == "get_uuid_from_username"]
    assert own["function"]["description"] == "Retrieve the UUID given a minecraft username."
    # And the answer came from the output the program submitted
    second = model.requests[1].body
    assert second["messages"][-1]["role"] == "tool"
    assert MERRYDITH_UUID in second["messages"][-1]["content"]
    assert model.schema_errors == []
