"""One settings object for every part of newsdesk.

Read once at start-up (from the environment and `.env`, through python-dotenv
as pydantic-settings does it) and passed in to whatever needs it: nothing in
the package reads the environment on its own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

IdList = Annotated[list[int], NoDecode]
StrList = Annotated[list[str], NoDecode]


def _split_list(value: object) -> object:
    """Accept "1,2 3" in the environment as well as a real list."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if value is None:
        return []
    return value


class SettingsError(ValueError):
    """Settings that do not fit together; the message names the settings to change."""


class Settings(BaseSettings):
    """Every setting newsdesk has; `.env.example` documents each with its default."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # -- storage --------------------------------------------------------------
    data_dir: Path = Field(
        Path("data"),
        validation_alias="NEWSDESK_DATA_DIR",
        description="Where the Chroma store, the keyword index and the audit database live.",
    )
    corpus_dirs: StrList = Field(
        default_factory=lambda: ["seeds"],
        validation_alias="NEWSDESK_CORPUS",
        description="Folders that `/reindex` and `newsdesk ingest` (with no path) ingest.",
    )
    collection: str = Field(
        "newsdesk", validation_alias="NEWSDESK_COLLECTION", description="Chroma collection name."
    )
    chroma_host: str | None = Field(
        None, validation_alias="CHROMA_HOST", description="Use a Chroma server instead of the embedded store."
    )
    chroma_port: int = Field(8000, validation_alias="CHROMA_PORT")
    chroma_ssl: bool = Field(False, validation_alias="CHROMA_SSL")
    chroma_auth_token: SecretStr | None = Field(None, validation_alias="CHROMA_AUTH_TOKEN")
    chroma_timeout_seconds: float = Field(10.0, validation_alias="CHROMA_TIMEOUT_SECONDS")

    # -- ingestion ------------------------------------------------------------
    chunk_tokens: int = Field(
        200, validation_alias="CHUNK_TOKENS", description="Target chunk length in model tokens."
    )
    chunk_overlap_tokens: int = Field(
        40, validation_alias="CHUNK_OVERLAP_TOKENS", description="Overlap between neighbouring chunks."
    )
    embed_batch_size: int = Field(32, ge=1, validation_alias="EMBED_BATCH_SIZE")
    embed_threads: int = Field(
        0, ge=0, validation_alias="EMBED_THREADS", description="onnxruntime threads; 0 lets it use every core."
    )

    # -- answering ------------------------------------------------------------
    answerer: str = Field(
        "extractive", validation_alias="NEWSDESK_ANSWERER", description="extractive or llm."
    )
    top_k: int = Field(12, ge=1, validation_alias="TOP_K", description="Passages handed to the answerer.")
    max_chunks_per_article: int = Field(3, ge=1, validation_alias="MAX_CHUNKS_PER_ARTICLE")
    refusal_threshold: float = Field(
        0.30,
        ge=0.0,
        le=1.0,
        validation_alias="REFUSAL_THRESHOLD",
        description="Below this evidence score (0..1) the engine says the archive does not hold the answer.",
    )
    llm_base_url: str | None = Field(None, validation_alias="LLM_BASE_URL")
    llm_model: str | None = Field(None, validation_alias="LLM_MODEL")
    llm_api_key: SecretStr | None = Field(None, validation_alias="LLM_API_KEY")
    llm_timeout_seconds: float = Field(30.0, validation_alias="LLM_TIMEOUT_SECONDS")

    # -- discord --------------------------------------------------------------
    discord_token: SecretStr | None = Field(None, validation_alias="DISCORD_TOKEN")
    discord_guild_ids: IdList = Field(default_factory=list, validation_alias="DISCORD_GUILD_IDS")
    discord_channel_ids: IdList = Field(default_factory=list, validation_alias="DISCORD_CHANNEL_IDS")
    discord_mod_role_ids: IdList = Field(default_factory=list, validation_alias="DISCORD_MOD_ROLE_IDS")
    discord_mod_log_channel_id: int | None = Field(None, validation_alias="DISCORD_MOD_LOG_CHANNEL_ID")
    rate_limit_per_minute: int = Field(6, validation_alias="RATE_LIMIT_PER_MINUTE")

    # -- moderators -----------------------------------------------------------
    audit_retention_days: int | None = Field(None, validation_alias="AUDIT_RETENTION_DAYS")
    review_host: str = Field("127.0.0.1", validation_alias="REVIEW_HOST")
    review_port: int = Field(8765, validation_alias="REVIEW_PORT")
    review_token: SecretStr | None = Field(None, validation_alias="REVIEW_TOKEN")

    # -- feeds ----------------------------------------------------------------
    feeds: StrList = Field(default_factory=list, validation_alias="FEEDS")
    feeds_poll_minutes: int | None = Field(None, validation_alias="FEEDS_POLL_MINUTES")
    fetch_timeout_seconds: float = Field(20.0, validation_alias="FETCH_TIMEOUT_SECONDS")
    fetch_max_bytes: int = Field(5_000_000, validation_alias="FETCH_MAX_BYTES")
    fetch_per_host: int = Field(2, validation_alias="FETCH_PER_HOST")

    @field_validator(
        "discord_guild_ids", "discord_channel_ids", "discord_mod_role_ids", "corpus_dirs", "feeds",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: object) -> object:
        return _split_list(value)

    @field_validator(
        "chroma_host", "chroma_auth_token", "discord_token", "discord_mod_log_channel_id",
        "audit_retention_days", "feeds_poll_minutes", "llm_base_url", "llm_model", "llm_api_key",
        "review_token", mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def keyword_index_dir(self) -> Path:
        return self.data_dir / "keyword_index"

    @property
    def audit_db_path(self) -> Path:
        return self.data_dir / "newsdesk.sqlite3"


def load_settings(data_dir: Path | str | None = None, env_file: str | None = ".env", **overrides) -> Settings:
    """Read the settings once; `--data-dir` on any command overrides the environment."""
    settings = Settings(_env_file=env_file, **overrides)
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": Path(data_dir)})
    return settings
