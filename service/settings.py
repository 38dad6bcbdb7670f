"""The one settings object; every value can be set with a `TWINNING_` environment variable."""

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]

REPO_DATA = Path(__file__).resolve().parent.parent / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TWINNING_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./twinning.db"
    model: str | None = None  # a sentence-transformers model directory; default: the packaged MiniLM
    # what runs the model: torch, or ONNX Runtime (fp32, or int8 per-channel) on an export made once into encoder_cache
    encoder_backend: Literal["torch", "onnx", "onnx-int8"] = "torch"
    encoder_cache: Path | None = None  # where ONNX exports live; default: ~/.cache/twinning/encoders (XDG_CACHE_HOME)
    data_dir: Path = REPO_DATA
    max_request_bytes: int = 20 * 1024 * 1024
    page_size: int = 50
    max_page_size: int = 500
    host: str = "127.0.0.1"
    port: int = 8000
    suggestions_k: int = 10
    keep_runs: int = 10
    lock_stale_seconds: float = 300.0
    rerank_block_size: int = 256
    rerank_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)  # local scoring processes
    # the niceness a run's process and its local scoring workers run at, at least: the server's answers go first
    rerank_nice: int = Field(default=10, ge=0, le=19)
    # per query, by code presence: depth against run time; default `matching.batch.SHORTLIST_SIZE`, read only by a
    # run so that the CLI's start never loads the batch's numerical libraries
    rerank_shortlist: int | None = Field(default=None, ge=1)
    dask_address: str | None = None
    blas_threads: int = Field(default=1, ge=1)  # per server process: its products are small (see create_app)
    ranker: Path | None = None  # the learned ranker's weights; default: data_dir / ranker.json
    handset: bool = False  # score with the hand-set blend even where learned weights exist
    # a workspace session ends after this long unused, and this long after sign-in whatever happens
    session_idle_seconds: float = Field(default=8 * 3600, gt=0)
    session_max_seconds: float = Field(default=24 * 3600, gt=0)
    # failed workspace sign-ins a client address may make in the sliding window before it waits (429)
    sign_in_attempts: int = Field(default=10, ge=1)
    sign_in_window_seconds: float = Field(default=300, gt=0)

    @property
    def themes_path(self) -> Path:
        return self.data_dir / "themes.json"

    @property
    def ranker_path(self) -> Path | None:
        if self.handset:
            return None
        return self.ranker or self.data_dir / "ranker.json"

    @property
    def demo_bundle_path(self) -> Path:
        return self.data_dir / "world-cities-eu-korea.json"


@lru_cache
def get_settings() -> Settings:
    return Settings()
