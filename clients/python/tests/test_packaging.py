"""The tests run against the installed package (scripts/test.sh: pip install ./clients/python), so a mistake in
what the wheel holds fails here instead of passing unnoticed from the source tree."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig

from support import SOURCE

import feedback_rpc

INSTALLED = pathlib.Path(feedback_rpc.__file__).resolve().parent
SHIPPED = ("*.py", "*.pyi", "py.typed")

# A user's code, checked by mypy --strict against the installed package: its API, and the generated messages
# through their .pyi stubs (without the stubs mypy sees no message classes at all).
USER_CODE = """
from feedback_rpc import Client, HealthStatus, ServiceDescription, __version__
from feedback_rpc._proto import feedback_pb2, reflection_pb2

def use(client: Client) -> HealthStatus:
    services: tuple[ServiceDescription, ...] = client.list_services()
    request = feedback_pb2.SubmitFeedbackRequest(interaction_id=42, rating=1)
    rating: int = request.rating
    answer = reflection_pb2.ListServicesResponse.FromString(b"")
    names: list[str] = [service.name for service in answer.services]
    version: str = __version__
    return client.check_health()
"""


def package_files(root: pathlib.Path) -> set[str]:
    return {
        path.relative_to(root).as_posix()
        for pattern in SHIPPED
        for path in root.rglob(pattern)
        if "__pycache__" not in path.parts
    }


def test_feedback_rpc_is_imported_from_site_packages_not_the_source_tree() -> None:
    site_packages = {pathlib.Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")}
    assert any(INSTALLED.is_relative_to(path) for path in site_packages), (
        f"feedback_rpc was imported from {INSTALLED}, not from site-packages ({site_packages}): run the tests "
        "after `pip install ./clients/python`, from a directory where the source is not importable"
    )
    assert not INSTALLED.is_relative_to(SOURCE.resolve())


def test_the_wheel_installed_every_module_stub_and_marker_of_the_source() -> None:
    source = package_files(SOURCE / "feedback_rpc")
    assert {"py.typed", "_connection.py", "_proto/feedback_pb2.pyi", "_proto/reflection_pb2.pyi"} <= source
    assert package_files(INSTALLED) == source
    recorded = {str(path) for path in importlib.metadata.files("feedback-rpc") or []}
    missing = {f"feedback_rpc/{name}" for name in source} - recorded
    assert not missing, f"not installed by the wheel (RECORD): {sorted(missing)}"


def test_the_version_is_pyprojects() -> None:
    pyproject = (SOURCE / "pyproject.toml").read_text()
    match = re.search(r'^\[project\][^\[]*?^version = "([^"]+)"', pyproject, re.MULTILINE | re.DOTALL)
    assert match is not None
    assert feedback_rpc.__version__ == importlib.metadata.version("feedback-rpc") == match.group(1)
    assert not re.search(r"__version__\s*=\s*['\"]\d+\.\d+", (SOURCE / "feedback_rpc" / "__init__.py").read_text())


def mypy(code: str, cwd: pathlib.Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file=", f"--cache-dir={cwd / '.mypy_cache'}", "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_the_installed_package_type_checks_with_its_stubs(tmp_path: pathlib.Path) -> None:
    checked = mypy(USER_CODE, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The same code against a copy of the package without the .pyi stubs fails: the check above needs them.
    unstubbed = tmp_path / "unstubbed"
    shutil.copytree(INSTALLED, unstubbed / "feedback_rpc", ignore=shutil.ignore_patterns("*.pyi", "__pycache__"))
    failed = mypy(USER_CODE, unstubbed)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert 'has no attribute "SubmitFeedbackRequest"' in failed.stdout, failed.stdout
