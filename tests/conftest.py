"""Shared fixtures: real PhysioNet data from the local mirror in ../shared/data/physionet.

A test that needs the data fails (never skips) when the mirror is missing.

Two tiers (README, "Tests"): ``make test`` runs everything; ``make test-fast`` runs the tests not
marked ``slow``: unit tests and the real-data tests that read only :func:`mitdb_two` (two
MIT-BIH records straight from the mirror's zip). A test that asks for a whole database
(:data:`WHOLE_DATABASES`) is marked ``slow`` here, automatically: in a fresh clone it extracts
and prepares that database first.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MIRROR = REPO.parent / "shared" / "data" / "physionet"
# Extracted databases persist here between local runs; CI starts from a clean clone.
TEST_HOME = REPO / ".cache" / "test-home"


#: Fixtures that give a whole database: their tests belong to the full tier only.
WHOLE_DATABASES = frozenset({"mitdb_dir", "svdb_dir", "cinc2017_dir", "cinc2021_dirs"})
#: The records of :func:`mitdb_two`: 100 (N, 33 S, 1 V) and 208 (N, S, 992 V, 373 F).
TWO_RECORDS = ("100", "208")
MITDB_ZIP = Path("mitdb") / "1.0.0" / "mit-bih-arrhythmia-database-1.0.0.zip"


#: Modules whose tests start Ray, call what may start it (`run_sweep`, `run_search`), reap its
#: folders or stand in for it: one xdist worker runs them all, one after the other, so two Ray
#: instances never share the 2 cores or reap each other's folders.
RAY_MODULES = frozenset(
    {
        "test_cluster_fit",
        "test_faults_outputs",
        "test_faults_security",
        "test_scale_sweep",
        "test_tune",
        "test_tune_spaces",
        "test_tune_wandb",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    # `make test` runs two xdist workers on 2 cores: one torch thread each, or they oversubscribe
    # (2 threads per process was measured many times slower than 1 on a loaded 2-core box).
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    slow = pytest.mark.slow
    for item in items:
        if WHOLE_DATABASES & set(getattr(item, "fixturenames", ())):
            item.add_marker(slow)
        # `--dist loadgroup`: a module stays on one worker (its module fixtures are built once)
        module = item.path.stem
        item.add_marker(pytest.mark.xdist_group("ray" if module in RAY_MODULES else module))
    # The Ray group is the longest (about 6 of the suite's 16 minutes on 2 cores): first, so the
    # other worker shares out the rest meanwhile instead of waiting for it at the end.
    items.sort(key=lambda item: item.path.stem not in RAY_MODULES)


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
    from ecgzoo.fetch.physionet import fetch

    root = fetch("mitdb", "1.0.0", home=test_home, mirror=str(physionet_mirror), progress=False)
    return root / "mit-bih-arrhythmia-database-1.0.0"


@pytest.fixture(scope="session")
def mitdb_two(physionet_mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with MIT-BIH records 100 and 208 (``.hea``, ``.dat``, ``.atr``), read from the
    mirror's zip and checked against the SHA-256 sums PhysioNet ships in it: the fast tier's
    real data (a second, not a whole-database extraction)."""
    folder = tmp_path_factory.mktemp("mitdb-two")
    with zipfile.ZipFile(physionet_mirror / MITDB_ZIP) as zf:
        prefix = zf.namelist()[0].split("/")[0]
        sums = {}
        for line in zf.read(f"{prefix}/SHA256SUMS.txt").decode().splitlines():
            digest, _, name = line.partition(" ")
            sums[name.strip()] = digest
        for record in TWO_RECORDS:
            for ext in (".hea", ".dat", ".atr"):
                data = zf.read(f"{prefix}/{record}{ext}")
                assert hashlib.sha256(data).hexdigest() == sums[f"{record}{ext}"], record + ext
                (folder / f"{record}{ext}").write_bytes(data)
    return folder


@pytest.fixture(scope="session")
def cinc2017_dir(test_home: Path, physionet_mirror: Path) -> Path:
    """Folder with ``training2017/`` and ``REFERENCE-v3.csv``, extracted from the mirror."""
    from ecgzoo.fetch.physionet import fetch

    return fetch(
        "challenge-2017", "1.0.0", home=test_home, mirror=str(physionet_mirror), progress=False
    )


@pytest.fixture(scope="session")
def svdb_dir(test_home: Path, physionet_mirror: Path) -> Path:
    """Folder holding the 52 SVDB records of the mirror (``800.hea`` ...), extracted."""
    from ecgzoo.fetch.physionet import fetch

    root = fetch("svdb", "1.0.0", home=test_home, mirror=str(physionet_mirror), progress=False)
    return root / "mit-bih-supraventricular-arrhythmia-database-1.0.0"


@pytest.fixture(scope="session")
def cinc2021_dirs(physionet_mirror: Path) -> tuple[Path, Path]:
    """``(training, scoring)`` folders of the 2021 challenge in the mirror (read in place)."""
    base = physionet_mirror / "challenge-2021"
    if not (base / "1.0.3" / "training").is_dir():
        pytest.fail(f"challenge-2021 not found in the mirror at {base}")
    return base / "1.0.3" / "training", base / "scoring"
