"""``make deploy`` and ``make sam-local`` wrap the SAM CLI of ``.venv-sam`` as the README's
Deploy section says: guided the first time, then with the saved answers. Run with ``SAM`` set
to ``echo`` and ``build`` taken as done, so that what would run is printed, not run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT


def make(*args: str) -> str:
    executable = shutil.which("make")
    if not executable:
        pytest.skip("no make")
    done = subprocess.run(  # noqa: S603 - make, with fixed arguments
        [executable, "-s", "-o", "build", "SAM=echo sam", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("config", "guided", "expected"),
    [
        ("version = 0.1\n", "", "sam deploy --guided"),
        ('[default.deploy.parameters]\nparameter_overrides = "A=1"\n', "", "sam deploy"),
        ('[default.deploy.parameters]\nparameter_overrides = "A=1"\n', "1", "sam deploy --guided"),
        ('# parameter_overrides = "A=1"\n', "", "sam deploy --guided"),
    ],
    ids=["first-time", "answers-saved", "asked-again", "only-the-example"],
)
def test_deploy_is_guided_until_the_answers_are_saved(
    tmp_path: Path, config: str, guided: str, expected: str
) -> None:
    samconfig = tmp_path / "samconfig.toml"
    samconfig.write_text(config)

    printed = make("deploy", f"SAMCONFIG={samconfig}", f"GUIDED={guided}")

    assert printed == f"{expected} --config-file {samconfig}"


def test_sam_local_passes_its_arguments_to_the_sam_cli() -> None:
    args = "invoke ChatFunction -e events/chat-tutorial.json"
    assert make("sam-local", f"ARGS={args}") == f"sam local {args}"
    assert make("sam-local") == "sam local start-api"


def test_the_sam_cli_is_the_one_in_venv_sam() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "SAM := $(SAM_VENV)/bin/sam" in makefile
    assert "deploy: build" in makefile
    assert "build: sam-tools" in makefile
