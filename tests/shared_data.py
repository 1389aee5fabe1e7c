"""Where the project's public reference files are: ``shared/`` beside the repository (as on
the developers' machines and in CI), or ``OHM_SHARED_DIR``."""

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    candidates = [os.environ.get("OHM_SHARED_DIR"), _REPO.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "data").is_dir():
            return Path(candidate)
    raise FileNotFoundError(
        "The reference data folder shared/ was not found beside the repository; set OHM_SHARED_DIR."
    )


SHARED = shared_dir()
