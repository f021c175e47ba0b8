"""The Lambda layer, built as `sam build` builds it: arm64 binaries and exactly the locked versions.

A layer built on the wrong platform (macOS, x86_64) imports fine on the build machine and fails
in Lambda ("No module named 'pydantic_core._pydantic_core'"), so the built files are checked:
every extension module is an aarch64 ELF, every wheel is tagged for CPython 3.12 on manylinux
aarch64 (or pure Python), and the versions are the lock's, which are also the test venv's.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import time
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging import tags
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.helpers import ROOT

LAYER_SOURCE = ROOT / "layers" / "mojang_chat"
LOCK = LAYER_SOURCE / "requirements.txt"
BUILD_TARGET = "build-MojangChatLayer"

EM_AARCH64 = 183  # ELF e_machine of 64-bit ARM
# The Lambda python3.12 runtime: Amazon Linux 2023 (glibc 2.34) on Graviton.
LAMBDA_GLIBC_MINOR = 34
LAMBDA_MARKERS = {
    "implementation_name": "cpython",
    "implementation_version": "3.12.0",
    "os_name": "posix",
    "platform_machine": "aarch64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.12.0",
    "python_version": "3.12",
    "sys_platform": "linux",
}
# Lambda's own quotas: 50 MB zipped for a direct upload, 250 MB unzipped for a function and
# all of its layers together.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 262_144_000
# Provided by the Lambda runtime; shipping them would shadow the runtime's copies.
RUNTIME_PACKAGES = {"boto3", "botocore", "s3transfer"}
# Parts of the package the layer leaves out (the Makefile's COPY_PACKAGE).
LOCAL_ONLY = {"local", "__main__.py"}

slow = pytest.mark.slow
build_timeout = pytest.mark.timeout(600)  # the first build downloads the wheels


def locked_requirements() -> list[Requirement]:
    """The lines of requirements.txt, each pinned with == (comments dropped)."""
    requirements = []
    for line in LOCK.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            requirement = Requirement(text)
            assert [spec.operator for spec in requirement.specifier] == ["=="], text
            requirements.append(requirement)
    return requirements


def pinned(environment: dict[str, str] | None = None) -> dict[str, str]:
    """{normalized name: version} of the lock's requirements that apply in ``environment``."""
    return {
        canonicalize_name(requirement.name): next(iter(requirement.specifier)).version
        for requirement in locked_requirements()
        if requirement.marker is None or requirement.marker.evaluate(environment)
    }


def lambda_tags() -> set[tags.Tag]:
    """Every wheel tag that pip would accept for Lambda's CPython 3.12 on arm64."""
    platforms = [f"manylinux_2_{minor}_aarch64" for minor in range(LAMBDA_GLIBC_MINOR, 16, -1)]
    platforms.append("manylinux2014_aarch64")
    return set(tags.cpython_tags((3, 12), abis=["cp312"], platforms=platforms)) | set(
        tags.compatible_tags((3, 12), interpreter="cp312", platforms=platforms)
    )


def elf_machine(path: Path) -> int:
    """The e_machine field of an ELF file's header (which CPU it was compiled for)."""
    with path.open("rb") as file:
        header = file.read(20)
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    assert header[4] == 2, f"{path} is not a 64-bit ELF file"  # EI_CLASS: ELFCLASS64
    assert header[5] in {1, 2}, f"{path} has an unknown byte order"  # EI_DATA
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def dist_infos(site: Path) -> dict[str, Path]:
    """{normalized name: .dist-info folder} of the distributions installed in ``site``."""
    found: dict[str, Path] = {}
    for folder in site.glob("*.dist-info"):
        metadata = HeaderParser().parsestr((folder / "METADATA").read_text())
        found[canonicalize_name(metadata["Name"])] = folder
    return found


def tree_size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


@pytest.fixture(scope="session")
def layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layer's ARTIFACTS_DIR, built once per session the way `sam build` runs the Makefile."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("`make` is not installed: sam build needs it for the layer too")
    artifacts = tmp_path_factory.mktemp("layer-artifacts")
    started = time.monotonic()
    result = subprocess.run(  # noqa: S603 - fixed arguments
        [
            make,
            "-C",
            str(LAYER_SOURCE),
            BUILD_TARGET,
            f"ARTIFACTS_DIR={artifacts}",
            f"PYTHON={sys.executable}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    print(f"\nlayer built in {time.monotonic() - started:.1f} s")
    return artifacts


@pytest.fixture(scope="session")
def site(layer: Path) -> Path:
    """The layer's python/ folder (Lambda puts it on sys.path as /opt/python)."""
    return layer / "python"


@slow
@build_timeout
def test_layer_ships_the_package_without_caches(site: Path) -> None:
    assert (site / "mojang_chat" / "__init__.py").is_file()
    package = LAYER_SOURCE / "mojang_chat"
    source = {
        path.relative_to(package)
        for path in package.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and path.suffix != ".pyc"
        # The local server is for developers' machines, not for Lambda.
        and path.relative_to(package).parts[0] not in LOCAL_ONLY
    }
    shipped = {
        path.relative_to(site / "mojang_chat")
        for path in (site / "mojang_chat").rglob("*")
        if path.is_file()
    }
    assert shipped == source
    assert (site / "mojang_chat" / "web" / "widget.js").is_file()
    assert not list(site.rglob("__pycache__"))
    assert not list(site.rglob("*.pyc"))
    assert not (site / "bin").exists()
    assert not list(site.glob("*.egg-info"))


@slow
@build_timeout
def test_every_extension_module_is_aarch64(site: Path) -> None:
    # Given every compiled file in the layer
    extensions = sorted(site.rglob("*.so"))
    assert any(path.parent.name == "pydantic_core" for path in extensions), extensions
    assert not [*site.rglob("*.pyd"), *site.rglob("*.dylib"), *site.rglob("*.dll")]
    for path in extensions:
        # Then it is a 64-bit ARM ELF file
        assert elf_machine(path) == EM_AARCH64, path
        # And, where its name says which CPython it was built for, that is 3.12 on aarch64
        abi = re.search(r"\.cpython-(\d+)-([^.]+)\.so$", path.name)
        if abi:
            assert abi.groups() == ("312", "aarch64-linux-gnu"), path


@slow
@build_timeout
def test_every_wheel_is_for_cpython312_on_manylinux_aarch64(site: Path) -> None:
    supported = lambda_tags()
    for name, folder in dist_infos(site).items():
        wheel = HeaderParser().parsestr((folder / "WHEEL").read_text())
        wheel_tags = {tag for line in wheel.get_all("Tag", []) for tag in tags.parse_tag(line)}
        assert wheel_tags, name
        for tag in wheel_tags:
            assert tag.platform == "any" or (
                tag.platform.startswith("manylinux") and tag.platform.endswith("_aarch64")
            ), (name, str(tag))
        assert wheel_tags & supported, (name, sorted(map(str, wheel_tags)))


@slow
@build_timeout
def test_layer_has_exactly_the_locked_versions(site: Path) -> None:
    installed = {
        name: HeaderParser().parsestr((folder / "METADATA").read_text())["Version"]
        for name, folder in dist_infos(site).items()
    }
    # Markers are evaluated for Lambda (python3.12 on linux/aarch64), not for this machine.
    assert installed == pinned(LAMBDA_MARKERS)
    assert not RUNTIME_PACKAGES & set(installed)
    assert not [name for name in RUNTIME_PACKAGES if (site / name).exists()]


@slow
@build_timeout
def test_layer_fits_lambda_quotas(layer: Path, tmp_path: Path) -> None:
    unzipped = tree_size(layer)
    archive = Path(shutil.make_archive(str(tmp_path / "layer"), "zip", root_dir=layer))
    zipped = archive.stat().st_size
    print(f"\nlayer size: {unzipped / 1e6:.1f} MB unzipped, {zipped / 1e6:.1f} MB zipped")
    assert unzipped < MAX_UNZIPPED_BYTES
    assert zipped < MAX_ZIPPED_BYTES


def test_tests_run_on_the_versions_the_layer_ships() -> None:
    # Given the lock's requirements that apply to this interpreter (markers evaluated here)
    expected = pinned()
    # Then the test environment has exactly those versions
    installed = {name: importlib.metadata.version(name) for name in expected}
    assert installed == expected
