"""All configuration in one place: `VOXFLOW_*` environment variables or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voxflow.contracts import ConversionOptions

_OPTIONS = ConversionOptions()


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "voxflow"


class Settings(BaseSettings):
    """Every process (CLI, workers, web app) reads its configuration from this class only."""

    model_config = SettingsConfigDict(env_prefix="VOXFLOW_", env_file=".env", extra="ignore")

    # Where local state lives: SQLite database, artifacts, Temporal's SQLite file, logs.
    data_dir: Path = Field(default_factory=_default_data_dir)
    environment: Literal["local", "production"] = "local"

    # Database: SQLite under data_dir unless a URL is given (postgresql+psycopg://...).
    database_url: str | None = None
    # How long an activity waits in place for the database to come back before it gives up a try.
    database_outage_s: float = 120.0

    # Artifact store: a local folder, or OCI Object Storage in production.
    artifact_store: Literal["local", "oci"] = "local"
    artifacts_dir: Path | None = None
    oci_bucket: str | None = None
    oci_namespace: str | None = None
    oci_config_file: Path | None = None
    oci_auth: Literal["config", "instance_principal", "workload_identity"] = "config"
    oci_endpoint: str | None = None
    oci_profile: str = "DEFAULT"  # Profile in the config file (oci_auth=config).
    oci_region: str | None = None  # Overrides the region from the config file or signer.
    oci_par_expiry_s: int = 3600  # Lifetime of pre-authenticated download links.
    oci_part_size_mb: int = 128  # Larger uploads go multipart, in parts of this size.

    # Document import limits.
    max_upload_bytes: int = 50 * 1024 * 1024
    # An EPUB or DOCX whose members would inflate past this is refused as a decompression bomb.
    max_inflated_bytes: int = 512 * 1024 * 1024
    max_chars: int = 400

    # Temporal.
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "voxflow"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    # mTLS to a Temporal frontend that requires client certificates (the OKE deployment).
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_tls_server_name: str | None = None

    # Orchestration: how a conversion is cut into jobs and how much runs at once.
    # Defaults are the workflow contract's own, so a workflow started without settings agrees.
    job_max_segments: int = _OPTIONS.job_max_segments
    job_max_chars: int = _OPTIONS.job_max_chars
    job_window: int = _OPTIONS.window
    job_plan_page: int = _OPTIONS.plan_page
    max_parallel_chapters: int = _OPTIONS.max_parallel_chapters
    activity_max_attempts: int = _OPTIONS.activity_max_attempts
    heartbeat_timeout_s: float = _OPTIONS.heartbeat_timeout_s
    worker_max_activities: int = 16
    output_format: Literal["mp3", "wav", "ogg"] = "mp3"

    # RabbitMQ (queue mode).
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    dispatch: Literal["direct", "queue"] = "direct"
    queue_prefix: str = "voxflow"
    # A job failing this many times is dead-lettered with its reason by the worker; the broker's
    # own delivery limit (higher) catches jobs that crash workers before they can say why.
    queue_max_attempts: int = 3
    queue_delivery_limit: int = 10
    inference_prefetch: int = 2
    queue_heartbeat_timeout_s: float = _OPTIONS.queue_heartbeat_timeout_s

    # TorchServe.
    torchserve_inference_url: str = "http://127.0.0.1:8080"
    torchserve_management_url: str = "http://127.0.0.1:8081"
    torchserve_metrics_url: str = "http://127.0.0.1:8082"
    torchserve_token: str | None = None
    torchserve_key_file: Path | None = None
    torchserve_timeout_s: float = 120.0
    # How long a job waits in place for TorchServe to come back before it gives up its try.
    torchserve_outage_s: float = 120.0
    torchserve_concurrency: int = 4
    model_store_dir: Path | None = None

    # Voices.
    model_registry: Path | None = None
    default_voice: str = "joe"
    # Speech QA: decoder processes per worker (0: one per CPU core).
    qa_processes: int = Field(default=0, ge=0)

    # Web app (`voxflow web`). Auth is on in production, or whenever it listens beyond loopback.
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    api_token: SecretStr | None = None
    web_username: str = "admin"
    web_password: SecretStr | None = None
    web_secret_key: SecretStr | None = None
    web_trusted_origins: list[str] = Field(default_factory=list)
    web_poll_s: float = 1.0
    # Login throttle (per user name and per client address, counted in each web process): this
    # many failed logins within the window lock the key out; each further lockout without a
    # success in between doubles, up to the maximum.
    web_login_max_failures: int = Field(default=5, ge=1)
    web_login_window_s: float = Field(default=900.0, gt=0)
    web_login_lockout_s: float = Field(default=900.0, gt=0)
    web_login_lockout_max_s: float = Field(default=3600.0, gt=0)

    @model_validator(mode="after")
    def _fill_derived_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        if self.artifacts_dir is None:
            self.artifacts_dir = self.data_dir / "artifacts"
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'voxflow.db'}"
        if self.model_store_dir is None:
            self.model_store_dir = self.data_dir / "model_store"
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests build `Settings(...)` directly instead."""
    return Settings()
