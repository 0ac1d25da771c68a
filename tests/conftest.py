"""Shared fixtures: real PhysioNet data from the local mirror in ../shared/data/physionet.

A test that needs the data fails (never skips) when the mirror is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data" / "physionet"
# Extracted databases persist here between local runs; CI starts from a clean clone.
TEST_HOME = REPO / ".cache" / "test-home"


@pytest.fixture(scope="session", autouse=True)
def _ecgzoo_environment():
    """Point ecgzoo's cache at the test home and its PhysioNet source at the local mirror."""
    saved = {k: os.environ.get(k) for k in ("ECGZOO_HOME", "ECGZOO_PHYSIONET_MIRROR")}
    os.environ["ECGZOO_HOME"] = str(TEST_HOME)
    os.environ["ECGZOO_PHYSIONET_MIRROR"] = str(MIRROR)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def physionet_mirror() -> Path:
    if not (MIRROR / "mitdb" / "1.0.0").is_dir():
        pytest.fail(f"PhysioNet mirror not found at {MIRROR}: tests need the real data")
    return MIRROR


@pytest.fixture(scope="session")
def test_home(physionet_mirror: Path) -> Path:
    """An ECGZOO_HOME whose databases come from the local mirror."""
    TEST_HOME.mkdir(parents=True, exist_ok=True)
    return TEST_HOME


@pytest.fixture(scope="session")
def mitdb_dir(test_home: Path, physionet_mirror: Path) -> Path:
    """Folder holding the 48 MIT-BIH records (``100.hea`` ...), extracted from the mirror."""
    from ecgzoo.data.physionet import fetch

    root = fetch("mitdb", "1.0.0", home=test_home, mirror=str(physionet_mirror), progress=False)
    return root / "mit-bih-arrhythmia-database-1.0.0"


@pytest.fixture(scope="session")
def cinc2017_dir(test_home: Path, physionet_mirror: Path) -> Path:
    """Folder with ``training2017/`` and ``REFERENCE-v3.csv``, extracted from the mirror."""
    from ecgzoo.data.physionet import fetch

    return fetch(
        "challenge-2017", "1.0.0", home=test_home, mirror=str(physionet_mirror), progress=False
    )


@pytest.fixture(scope="session")
def svdb_dir(test_home: Path, physionet_mirror: Path) -> Path:
    """Folder holding the 52 SVDB records of the mirror (``800.hea`` ...), extracted."""
    from ecgzoo.data.physionet import fetch

    root = fetch("svdb", "1.0.0", home=test_home, mirror=str(physionet_mirror), progress=False)
    return root / "mit-bih-supraventricular-arrhythmia-database-1.0.0"


@pytest.fixture(scope="session")
def cinc2021_dirs(physionet_mirror: Path) -> tuple[Path, Path]:
    """``(training, scoring)`` folders of the 2021 challenge in the mirror (read in place)."""
    base = physionet_mirror / "challenge-2021"
    if not (base / "1.0.3" / "training").is_dir():
        pytest.fail(f"challenge-2021 not found in the mirror at {base}")
    return base / "1.0.3" / "training", base / "scoring"
