"""Where the type definitions are: ``<repo>/../shared/bicep-types``.

In a git worktree (``.git`` is a file naming the main repository's ``.git/worktrees/<name>``), the
main checkout's sibling ``shared/`` is used when the worktree has none beside it.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_dir(repo: Path = REPO) -> Path:
    beside = (repo / ".." / "shared").resolve()
    dot_git = repo / ".git"
    if not beside.is_dir() and dot_git.is_file():
        gitdir = Path(dot_git.read_text(encoding="utf-8").partition("gitdir:")[2].strip())
        if gitdir.parent.name == "worktrees":
            main_checkout = gitdir.parent.parent.parent
            candidate = (main_checkout / ".." / "shared").resolve()
            if candidate.is_dir():
                return candidate
    return beside


def bicep_types_dir(repo: Path = REPO) -> Path:
    return shared_dir(repo) / "bicep-types"
