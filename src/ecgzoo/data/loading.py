"""One entry point from a data config to prepared train/val/test arrays."""

from __future__ import annotations

from ecgzoo.config import DataConfig
from ecgzoo.data.arrays import PreparedData
from ecgzoo.errors import ConfigError


def load_data(config: DataConfig) -> PreparedData:
    """Prepare the dataset a config names (cached after the first call)."""
    if config.dataset == "mitbih":
        from ecgzoo.data.mitbih import load_mitbih

        return load_mitbih(config.mitbih, seed=config.seed)
    if config.dataset == "svdb":
        from ecgzoo.data.svdb import load_svdb

        return load_svdb(config.svdb, seed=config.seed)
    if config.dataset == "cinc2021":
        from ecgzoo.data.cinc2021 import load_cinc2021

        return load_cinc2021(config.cinc2021, seed=config.seed)
    if config.dataset == "rhythm_windows":
        from ecgzoo.data.rhythm_windows import load_rhythm_windows

        return load_rhythm_windows(config.rhythm_windows, seed=config.seed)
    if config.dataset == "cinc2017":
        from ecgzoo.data.cinc2017 import load_cinc2017

        return load_cinc2017(config.cinc2017, seed=config.seed)
    if config.dataset == "ptbxl":
        from ecgzoo.data.ptbxl import load_ptbxl

        return load_ptbxl(config.ptbxl, seed=config.seed)
    if config.dataset == "kaggle_csv":
        from ecgzoo.data.kaggle_csv import load_kaggle

        if not config.kaggle_train or not config.kaggle_test:
            raise ConfigError("data.kaggle_train and data.kaggle_test are needed for kaggle_csv")
        return load_kaggle(
            config.kaggle_train, config.kaggle_test, val_fraction=0.1, seed=config.seed
        )
    raise ConfigError(f"data.dataset: unknown dataset {config.dataset!r}")
