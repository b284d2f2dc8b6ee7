"""Typed settings for every process, read from HOSTPLANE_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can configure. Defaults serve one machine with no DNS set up."""

    model_config = SettingsConfigDict(env_prefix="HOSTPLANE_", extra="ignore")

    # Storage
    data_dir: Path = Field(Path("./.hostplane"))
    """Where the SQLite file, signing keys and uploaded assets live."""
    database_url: str | None = None
    """SQLAlchemy URL; empty means a SQLite file inside data_dir."""
    database_pool_size: int = Field(10, ge=1, le=200)
    """Connections kept open per process (PostgreSQL)."""

    # Public naming of URL layers
    managed_domain: str = "localhost"
    """Deployment fallback: {deployment}.{organization}.{managed_domain}."""
    preview_domain: str = "localhost"
    """Default sandbox previews: {port}-{sandbox}.sandbox.{preview_domain}."""
    computer_domain: str = "computer.localhost"
    """Desktops: {computer}.{computer_domain}/desktop/index.html."""
    proxy_target: str = "localhost"
    """The hostname customers point their CNAME records at."""
    public_scheme: str = "http"
    """Scheme of generated URLs (http or https)."""
    public_port: str = "8000"
    """Port appended to generated URLs; empty for none."""

    # Outside world
    dns_nameservers: str = ""
    """Resolvers for domain verification, a host[:port] comma list; empty means the system's."""
    domain_verify_per_hour: int = Field(60, ge=1, le=100_000)
    """Explicit DNS verifications one organization may ask for per hour (per API process)."""
    dns_challenge_label: str = Field("_hostplane-challenge", pattern=r"^_?[a-z0-9][a-z0-9-]{0,61}$")
    """The label under a domain where its ownership TXT record goes."""
    postgres_admin_url: str | None = None
    """Where the local driver creates postgresql databases; unset means that engine is not offered."""
    postgres_shared_server: bool = False
    """The server at postgres_admin_url also holds other applications' databases: hostplane then
    locks only the organizations' own databases, and the operator the rest (docs/operators.md).
    Off: it also takes CONNECT from PUBLIC on the server's postgres and template1 databases and
    on its own."""
    database_name_prefix: str = Field("hp_", pattern=r"^[a-z_][a-z0-9_]{0,15}$")
    """How the databases and roles made on that server are named: prefix + the database's id."""
    api_url: str = "http://127.0.0.1:8080"
    """The API's public base URL, for links and the CLI."""

    # Compute
    sandbox_isolation: Literal["auto", "bubblewrap", "none"] = "auto"
    """How the local driver runs sandbox commands: bubblewrap (auto is the same: each sandbox in its
    own namespaces, its files at /workspace; without a working bubblewrap sandboxes do not start),
    or none (plain, unisolated processes in the sandbox's directory: the operator's explicit
    choice)."""
    computer_desktops: bool = True
    """Whether computers get a real desktop (Xvfb, openbox, x11vnc; needs bubblewrap). Off, they
    are records with URLs and domains, stopped with a status_reason."""
    sandbox_uid_base: int = Field(0x70000000, ge=1000, le=2**32 - 2)
    """First host uid sandboxes run as (bubblewrap; one uid per sandbox, its group the same number):
    a range no account, file or subordinate-id range (/etc/subuid) of this machine uses."""
    sandbox_uid_count: int = Field(65536, ge=1, le=2**31)
    """How many uids from sandbox_uid_base: the most sandboxes this machine holds at once."""
    exec_timeout_max_seconds: int = Field(600, ge=1, le=86400)
    """Longest a single exec may run."""
    driver_concurrency: int = Field(16, ge=1, le=1024)
    """Commands and file transfers that run at once per API process (more wait their turn); they
    never take the threads database work needs."""
    driver_concurrency_per_organization: int = Field(8, ge=1, le=1024)
    """Of those, how many one organization may run at once: a busy tenant queues behind itself."""
    driver_queue_seconds: float = Field(30.0, gt=0, le=3600)
    """How long a command may wait for its organization's turn before 503 DRIVER_BUSY."""

    webhook_allow_loopback: bool = False
    """Let webhooks go to plain-http loopback endpoints (tests, local development). Off: https to
    public addresses only, checked at every delivery."""

    # Limits and quotas (docs/operators.md "Limits and quotas")
    sandbox_max_cpu_count: int | None = Field(None, ge=1, le=1024)
    """Most CPUs one sandbox or database may ask for; empty: this host's cores (a cgroup limit
    above them would limit nothing)."""
    sandbox_max_memory_mb: int | None = Field(None, ge=128)
    """Most memory one sandbox or database may ask for; empty: this host's memory less
    host_memory_reserve_mb."""
    host_memory_reserve_mb: int = Field(1024, ge=0)
    """Memory kept for hostplane and the system when the memory bound comes from the host."""
    sandbox_max_disk_mb: int | None = Field(None, ge=256)
    """Most disk one sandbox (disk_mb) or database (storage_mb) may ask for; empty: the size of
    the filesystem holding data_dir."""
    storage_quota_mb: int = Field(1_048_576, ge=1)
    """Storage one organization may hold: deployment releases, branding images and its live
    sandboxes' disk_mb together (413 STORAGE_QUOTA_EXCEEDED above)."""

    asset_fetch_allow_private: bool = False
    """Let the worker fetch branding images (desktop_wallpaper_url) from private, loopback and
    link-local addresses. Off: such URLs fail, so a URL can't make the server read its own
    network."""

    # Edge router
    edge_port: int = Field(8000, ge=1, le=65535)
    """Where `hostplane serve` runs the edge router (the default public port of URLs)."""
    edge_max_open_per_org: int = Field(1000, ge=1, le=1_000_000)
    """Requests and WebSockets one organization may have open at once, per edge process (503
    above)."""
    edge_requests_per_second_per_org: float = Field(10_000, gt=0, le=1_000_000)
    """Requests per second one organization may send, per edge process (429 above; bursts of
    twice that)."""
    edge_max_open_per_client: int = Field(256, ge=1, le=1_000_000)
    """Requests and WebSockets one client address may have open at once, per edge process (503
    above), so no stranger can use up an organization's share."""
    edge_trusted_proxies: str = ""
    """Comma list of peer addresses (e.g. Caddy's, 127.0.0.1) whose X-Forwarded-For the edge
    believes; from anyone else the client's address is the peer's."""
    tls_ask_allow: str = "127.0.0.1/32,::1/128"
    """Networks that may ask GET /internal/tls/ask (Caddy's on-demand TLS check)."""

    metrics_allow: str = "127.0.0.1/32,::1/128"
    """Networks that may read GET /metrics (Prometheus); from anywhere else it is a 404."""

    # Request handling
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    """Largest request body the API accepts (413 above)."""
    idempotency_ttl_seconds: int = Field(24 * 3600, ge=60)
    """How long an Idempotency-Key and its stored response are kept."""
    key_last_used_resolution_seconds: int = Field(60, ge=0)
    """last_used_at on an API key is written at most this often."""

    # Stopping and the event log's length
    shutdown_grace_sec: float = Field(20.0, ge=0, le=3600)
    """On SIGTERM, how long requests in flight may take to finish before they are cut and the
    process exits (server-sent event streams end at once, so their clients reconnect)."""
    event_retention_days: int = Field(30, ge=1, le=36500)
    """The worker deletes events older than this, except those an active webhook has yet to
    receive."""

    # Web console
    console_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    """A console session ends after this long without a request."""
    console_max_hours: int = Field(12, ge=1, le=24 * 30)
    """A console session ends this long after sign-in, however active."""

    @field_validator("public_scheme")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value not in ("http", "https"):
            raise ValueError("HOSTPLANE_PUBLIC_SCHEME must be http or https")
        return value

    @field_validator("public_port")
    @classmethod
    def _port(cls, value: str) -> str:
        value = value.strip()
        if value and not (value.isdigit() and 0 < int(value) < 65536):
            raise ValueError("HOSTPLANE_PUBLIC_PORT must be empty or a port number 1-65535")
        return value

    @model_validator(mode="after")
    def _uid_range(self) -> Settings:
        if self.sandbox_uid_base + self.sandbox_uid_count > 2**32 - 1:
            raise ValueError("HOSTPLANE_SANDBOX_UID_BASE + HOSTPLANE_SANDBOX_UID_COUNT must stay "
                             "below 4294967295 (the largest uid); lower either")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL to connect to, defaulting to SQLite under data_dir."""
        if self.database_url:
            url = self.database_url
            # Operators paste plain postgres URLs; we speak psycopg 3.
            for prefix in ("postgres://", "postgresql://"):
                if url.startswith(prefix):
                    return "postgresql+psycopg://" + url[len(prefix):]
            return url
        return f"sqlite:///{(self.data_dir / 'hostplane.db').resolve()}"

    @property
    def edge_trusted_proxy_list(self) -> list[str]:
        return [part.strip() for part in self.edge_trusted_proxies.split(",") if part.strip()]

    @property
    def nameservers(self) -> list[str]:
        """HOSTPLANE_DNS_NAMESERVERS split into entries."""
        return [part.strip() for part in self.dns_nameservers.split(",") if part.strip()]


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
