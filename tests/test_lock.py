"""The dependency lock: it never moves by itself, always catches an unlocked change, and installs verify it.

The project's own files are checked directly (offline, from the two files alone). The behaviour a new
upstream release or a tampered hash would cause is shown on a toy project with a local package index that
the test writes itself: wheels built here, served as a flat index, so "a newer release appears on the
index" is a real file appearing, not a mock.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UV = REPO / ".venv" / "bin" / "uv"

pytestmark = pytest.mark.skipif(not UV.exists(), reason=f"uv not installed at {UV}: run `make setup`")


def uv(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UV_")}
    # No user- or system-level uv.toml (XDG_CONFIG_HOME is the cache's sibling); the project's own
    # pyproject.toml [tool.uv] settings still apply, as they do in `make`.
    env |= {"UV_CACHE_DIR": str(cache), "XDG_CONFIG_HOME": str(cache.parent / "xdg"), "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run([str(UV), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


# --------------------------------------------------------------------------------------------------
# The project's own lock


def test_project_lock_matches_pyproject_offline(tmp_path: Path) -> None:
    result = uv("lock", "--check", "--offline", cwd=REPO, cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("edit", "what"),
    [
        (lambda deps: [*deps, '"toydep-not-locked>=1.0"'], "added"),
        (lambda deps: [d for d in deps if not d.startswith('"httpx')], "removed"),
        (lambda deps: [('"pyyaml>=99"' if d.startswith('"pyyaml') else d) for d in deps], "tightened"),
    ],
)
def test_project_lock_check_fails_on_unlocked_dependency_change(tmp_path: Path, edit: object, what: str) -> None:
    project = tmp_path / "copy"
    project.mkdir()
    shutil.copy(REPO / "uv.lock", project / "uv.lock")
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[\n(.*?)^\]", text, flags=re.S | re.M)
    assert block is not None
    deps = [line.strip().rstrip(",") for line in block.group(1).splitlines() if line.strip()]
    changed = edit(deps)  # type: ignore[operator]
    assert changed != deps, what
    new_block = "dependencies = [\n" + "".join(f"    {d},\n" for d in changed) + "]"
    (project / "pyproject.toml").write_text(text.replace(block.group(0), new_block), encoding="utf-8")
    result = uv("lock", "--check", "--offline", cwd=project, cache=tmp_path / "cache")
    assert result.returncode != 0, f"a dependency {what} without re-locking passed the check"


def test_requirements_txt_is_hashed_export_of_lock() -> None:
    """The Functions remote build installs requirements.txt: every pin carries hashes (pip then verifies)."""
    text = (REPO / "requirements.txt").read_text(encoding="utf-8")
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, flags=re.M)
    assert pins
    blocks = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.M)
    for block in blocks:
        if block.strip() and not block.startswith("#"):
            assert "--hash=sha256:" in block, f"unhashed pin in requirements.txt: {block.splitlines()[0]}"
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    locked = {p["name"]: p["version"] for p in lock["package"] if "version" in p}
    for name, version in pins:
        assert locked.get(name.lower()) == version, f"{name}=={version} in requirements.txt but not in uv.lock"


def test_venv_tools_are_pinned() -> None:
    """pip, setuptools and uv in .venv come from the lock, and the bootstrap installs the same uv."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    bootstrap = {d.split("==")[0]: d.split("==")[1] for d in pyproject["dependency-groups"]["bootstrap"]}
    assert set(bootstrap) == {"pip", "setuptools", "uv"}
    boot_file = (REPO / "scripts" / "bootstrap-requirements.txt").read_text(encoding="utf-8")
    assert re.search(rf"^uv=={re.escape(bootstrap['uv'])} \\$", boot_file, flags=re.M), "bootstrap uv differs"
    assert boot_file.count("--hash=sha256:") >= 1
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    locked = {p["name"]: p["version"] for p in lock["package"] if "version" in p}
    for name, version in bootstrap.items():
        assert locked[name] == version
    setuptools_major = int(bootstrap["setuptools"].split(".")[0])
    assert setuptools_major >= 78, "setuptools below 78.1.1 has published vulnerabilities (CVE-2025-47273)"


def test_tools_requirements_are_hashed() -> None:
    text = (REPO / "scripts" / "tools-requirements.txt").read_text(encoding="utf-8")
    blocks = [b for b in re.split(r"^(?=[A-Za-z0-9])", text, flags=re.M) if b.strip() and not b.startswith("#")]
    assert blocks
    for block in blocks:
        assert "--hash=sha256:" in block, f"unhashed pin in tools-requirements.txt: {block.splitlines()[0]}"


# --------------------------------------------------------------------------------------------------
# A toy project on a local index


def build_wheel(index: Path, name: str, version: str) -> Path:
    """A minimal, valid pure-Python wheel, written by hand, published to a PEP 503 simple index."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: vigil-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, body in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(body.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(body.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    folder = index / name
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, body in files.items():
            archive.writestr(path, body)
    links = "".join(
        f'<a href="{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">{w.name}</a>\n'
        for w in sorted(folder.glob("*.whl"))
    )
    (folder / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n", encoding="utf-8")
    return wheel


def toy_project(root: Path, index: Path, deps: list[str]) -> Path:
    project = root / "toy"
    project.mkdir(exist_ok=True)
    listed = ", ".join(f'"{d}"' for d in deps)
    (project / "pyproject.toml").write_text(
        f"""[project]
name = "toy"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [{listed}]

[tool.uv]
package = false

[[tool.uv.index]]
name = "local"
url = "{index.as_uri()}"
default = true
""",
        encoding="utf-8",
    )
    return project


@pytest.fixture
def toy(tmp_path: Path) -> tuple[Path, Path, Path]:
    index = tmp_path / "index"
    build_wheel(index, "toydep", "1.0")
    build_wheel(index, "toyother", "1.0")
    project = toy_project(tmp_path, index, ["toydep>=1.0"])
    cache = tmp_path / "cache"
    locked = uv("lock", cwd=project, cache=cache)
    assert locked.returncode == 0, locked.stderr
    assert 'hash = "sha256:' in (project / "uv.lock").read_text(encoding="utf-8")
    return project, index, cache


def installed_version(project: Path) -> str:
    python = project / ".venv" / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import toydep; print(toydep.__version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


def test_newer_release_on_index_does_not_fail_or_move_the_lock(toy: tuple[Path, Path, Path]) -> None:
    project, index, cache = toy
    before = (project / "uv.lock").read_text(encoding="utf-8")
    build_wheel(index, "toydep", "2.0")  # upstream publishes a newer release
    for args in (["lock", "--check"], ["lock", "--check", "--offline"]):
        result = uv(*args, cwd=project, cache=cache)
        assert result.returncode == 0, f"{args}: {result.stderr}"
    synced = uv("sync", "--locked", "--python", sys.executable, cwd=project, cache=cache)
    assert synced.returncode == 0, synced.stderr
    assert installed_version(project) == "1.0"
    assert (project / "uv.lock").read_text(encoding="utf-8") == before
    # ... and the explicit upgrade is what moves it
    upgraded = uv("lock", "--upgrade", cwd=project, cache=cache)
    assert upgraded.returncode == 0, upgraded.stderr
    assert 'version = "2.0"' in (project / "uv.lock").read_text(encoding="utf-8")


def test_unlocked_new_dependency_fails_the_check(toy: tuple[Path, Path, Path]) -> None:
    project, index, cache = toy
    toy_project(project.parent, index, ["toydep>=1.0", "toyother>=1.0"])
    result = uv("lock", "--check", "--offline", cwd=project, cache=cache)
    assert result.returncode != 0
    synced = uv("sync", "--locked", "--python", sys.executable, cwd=project, cache=cache)
    assert synced.returncode != 0, "sync --locked installed from a lock that pyproject.toml disagrees with"


def test_removed_dependency_fails_the_check(toy: tuple[Path, Path, Path]) -> None:
    project, index, cache = toy
    toy_project(project.parent, index, [])
    assert uv("lock", "--check", "--offline", cwd=project, cache=cache).returncode != 0


def tamper(lock: Path) -> None:
    text = lock.read_text(encoding="utf-8")
    digest = re.search(r'hash = "sha256:([0-9a-f]{64})"', text)
    assert digest is not None
    forged = ("0" if digest.group(1)[0] != "0" else "1") + digest.group(1)[1:]
    lock.write_text(text.replace(digest.group(1), forged), encoding="utf-8")


def test_tampered_hash_fails_the_install(toy: tuple[Path, Path, Path]) -> None:
    project, _index, cache = toy
    tamper(project / "uv.lock")
    synced = uv("sync", "--locked", "--python", sys.executable, cwd=project, cache=cache)
    assert synced.returncode != 0
    assert "hash" in synced.stderr.lower(), synced.stderr


def test_tampered_hash_fails_the_exported_requirements_install(toy: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The deployment path: pip installing the exported requirements.txt verifies its hashes."""
    project, index, cache = toy
    exported = uv("export", "--frozen", "--no-emit-project", "--format", "requirements-txt", cwd=project, cache=cache)
    assert exported.returncode == 0, exported.stderr
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(exported.stdout, encoding="utf-8")
    target = tmp_path / "target"

    def pip_install() -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
        env["PIP_CONFIG_FILE"] = os.devnull
        return subprocess.run(
            [sys.executable, "-m", "pip", "install", "--index-url", index.as_uri(),
             "--target", str(target), "-r", str(requirements)],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip

    assert "--hash=sha256:" in exported.stdout
    assert pip_install().returncode == 0
    shutil.rmtree(target)
    tamper_text = re.sub(r"sha256:[0-9a-f]", "sha256:f", exported.stdout, count=1)
    if tamper_text == exported.stdout:
        tamper_text = re.sub(r"sha256:f", "sha256:0", exported.stdout, count=1)
    requirements.write_text(tamper_text, encoding="utf-8")
    failed = pip_install()
    assert failed.returncode != 0
    assert "hash" in (failed.stderr + failed.stdout).lower()


def test_lockdiff_names_what_an_upgrade_changed(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import lockdiff
    finally:
        sys.path.pop(0)

    def lock(**pins: str) -> Path:
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.lock"
        body = "".join(
            f'[[package]]\nname = "{n}"\nversion = "{v}"\nsource = {{ registry = "https://pypi.org/simple" }}\n\n'
            for n, v in pins.items()
        )
        path.write_text(body + '[[package]]\nname = "vigil"\nversion = "0.1.0"\nsource = { editable = "." }\n')
        return path

    old = lockdiff.versions(lock(httpx="0.28.1", fonttools="4.68.0", gone="1.0"))
    new = lockdiff.versions(lock(httpx="0.29.0", fonttools="4.68.0", added="2.0"))
    assert lockdiff.changes(old, new) == ["+ added 2.0", "- gone 1.0", "~ httpx 0.28.1 -> 0.29.0"]
    assert lockdiff.changes(old, old) == []
