"""The deployment files: a container with PostgreSQL, and a systemd service.

Docker is only a client on the development machine (no engine), so the compose file
is checked by ``docker compose config`` only where that works; its structure, the
Dockerfile and the systemd units are checked everywhere.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
UNITS = sorted((ROOT / "deploy").glob("kanal-aduan*.*"))


def docker_compose_works() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return probe.returncode == 0


def test_the_bot_runs_on_postgresql_in_compose() -> None:
    services = COMPOSE["services"]
    assert set(services) >= {"bot", "db", "redis"}
    bot = services["bot"]
    assert bot["build"] == "."
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "healthcheck" in services["db"]
    url = bot["environment"]["DATABASE_URL"].replace(
        "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}", "pw"
    )
    settings = Settings.model_validate({"database_url": url, "media_dir": "/app/data/media"})
    assert settings.database_url == "postgresql://aduan:pw@db:5432/aduan"
    assert services["db"]["environment"]["POSTGRES_DB"] == "aduan"
    assert "data:/app/data" in bot["volumes"]
    assert set(COMPOSE["volumes"]) == {"data", "postgres", "redis"}


@pytest.mark.skipif(
    not docker_compose_works(),
    reason="docker compose is not available here; CI checks it where Docker is installed",
)
def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=pw\nTELEGRAM_BOT_TOKEN=1:x\n")
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_image_holds_every_package_and_runs_unprivileged() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = set(re.findall(r"^COPY (\w+) \./\1$", DOCKERFILE, re.M))
    assert copied == {*packages, "alembic"}
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users and users[-1] not in ("root", "0")
    assert 'VOLUME ["/app/data"]' in DOCKERFILE
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".env", ".venv", "data"} <= set(ignored)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is missing")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # The units name /opt/kanal-aduan/.venv/bin/aduan, which exists only once installed.
    fake_aduan = tmp_path / "aduan"
    fake_aduan.write_text("#!/bin/sh\n")
    fake_aduan.chmod(0o755)
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        (tmp_path / unit.name).write_text(
            text.replace("/opt/kanal-aduan/.venv/bin/aduan", str(fake_aduan))
        )
    result = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / unit.name) for unit in UNITS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
    assert [u.name for u in UNITS] == [
        "kanal-aduan-backup.service",
        "kanal-aduan-backup.timer",
        "kanal-aduan.service",
    ]
