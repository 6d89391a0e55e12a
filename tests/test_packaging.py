"""`pip install .` gives a working package: the wheel holds every module and every config of conf/ (as
curriculum/conf), and the command line finds the configs of the code it runs. scripts/check_wheel.sh runs the
installed wheel."""

import subprocess
import sys
import zipfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from conftest import ROOT

from curriculum.cli import find_conf_dir

SDIST = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"


def setuptools_version() -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version("setuptools").split(".")[:2])
    except PackageNotFoundError:
        return (0,)


def build_wheel(out: Path) -> Path:
    """The sdist, then the wheel from it (as scripts/check_wheel.sh does), offline with this venv's setuptools."""
    run = dict(check=True, capture_output=True, text=True, timeout=300)
    sdist = subprocess.run([sys.executable, "-c", SDIST, str(out)], cwd=ROOT, **run).stdout.splitlines()[-1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-cache-dir",
                    "-w", str(out), str(out / sdist)], **run)
    return next(out.glob("curriculum-*.whl"))


@pytest.mark.skipif(setuptools_version() < (70, 1), reason="building the wheel offline needs setuptools>=70.1 (it "
                    "has bdist_wheel) in this venv: pip install -e '.[dev]'")
def test_wheel_holds_every_config_under_the_package_and_every_module(tmp_path):
    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    configs = {f"curriculum/conf/{p.relative_to(ROOT / 'conf').as_posix()}" for p in (ROOT / "conf").rglob("*.yaml")}
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "curriculum").rglob("*.py")}
    assert configs and not configs - names, f"configs missing from the wheel: {sorted(configs - names)}"
    assert not modules - names, (f"modules missing from the wheel: {sorted(modules - names)}; add their package to "
                                 f"[tool.setuptools] packages in pyproject.toml")
    assert {name.split("/")[0] for name in names} == {"curriculum", "curriculum-0.1.0.dist-info"}


def test_configs_come_from_a_checkout_when_the_code_does_else_from_the_package(tmp_path):
    checkout, site = tmp_path / "checkout", tmp_path / "site-packages"
    for folder in (checkout / "conf", checkout / "curriculum", site / "conf", site / "curriculum" / "conf"):
        folder.mkdir(parents=True)
    (checkout / "pyproject.toml").touch()
    assert find_conf_dir(checkout / "curriculum") == checkout / "conf"
    assert find_conf_dir(site / "curriculum") == site / "curriculum" / "conf"  # never another distribution's conf/


def test_the_command_line_uses_the_checkouts_configs():
    from curriculum.cli import CONF_DIR

    assert CONF_DIR == ROOT / "conf"
