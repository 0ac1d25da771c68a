"""The options of the ``kaggle_csv`` dataset: the two CSV files, at the top of the data section
(``data.kaggle_train``, ``data.kaggle_test``) as in every run folder written so far."""

from __future__ import annotations

from pydantic import Field

from ecgzoo.config import StrictConfig


class KaggleCsvOptions(StrictConfig):
    kaggle_train: str | None = Field(None, description="kaggle_csv: path to mitbih_train.csv")
    kaggle_test: str | None = Field(None, description="kaggle_csv: path to mitbih_test.csv")
