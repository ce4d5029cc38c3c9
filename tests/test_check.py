"""``aduan check``: every problem at once, with line numbers, before the bot ever starts."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot import check
from bot.city_file import CityFileError, load_city
from bot.settings import PACKAGE_DIR
from storage import migrate
from storage.database import create_engine
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.whatsapp_api import FakeWhatsApp
from tests.support.bot import ADMIN_CHAT_ID, TOKEN

SAMPLE = (PACKAGE_DIR / "city.yaml").read_text(encoding="utf-8")
PUPR_CHAT = -1009000000001


def city_file(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    text = SAMPLE
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "city.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, fragment: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if fragment in line)


def test_the_sample_city_file_passes() -> None:
    assert load_city(PACKAGE_DIR / "city.yaml").city_name == "Kota Blitar"


def test_every_mistake_in_the_city_file_is_listed_with_its_line(tmp_path: Path) -> None:
    path = city_file(
        tmp_path,
        ('city_name: "Kota Blitar"', 'city_nama: "Kota Blitar"'),
        ('timezone: "Asia/Jakarta"', 'timezone: "Asia/Blitar"'),
        ("  - 2026-12-24", "  - 2026-02-30"),
        ("    chat_id: null ", f"    chat_id: {-PUPR_CHAT} "),
    )
    with pytest.raises(CityFileError) as caught:
        load_city(path)
    assert sorted(caught.value.problems) == sorted(
        [
            f"{path} line {line_of(path, 'city_nama')}: city_nama: unknown key "
            "(did you mean city_name?)",
            f"{path} line {line_of(path, 'Asia/Blitar')}: timezone: unknown time zone "
            "'Asia/Blitar'; Indonesian cities use Asia/Jakarta (WIB), Asia/Makassar (WITA) "
            "or Asia/Jayapura (WIT)",
            f"{path} line {line_of(path, '2026-02-30')}: cuti_bersama.0: Input should be a "
            "valid date or datetime, day value is outside expected range",
            f"{path} line {line_of(path, str(-PUPR_CHAT))}: agencies.0.chat_id: a group's id "
            "is negative (e.g. -1001234567890); send /id in the group to see it",
        ]
    )


def test_file_wide_mistakes_are_listed_with_the_others_each_at_its_entry(tmp_path: Path) -> None:
    path = city_file(
        tmp_path,
        ('timezone: "Asia/Jakarta"', 'timezone: "Asia/Blitar"'),
        ("  - code: perkim", "  - code: pupr"),
        ("  - code: drainase", "  - code: jalan"),
        ("    agency: dlh", "    agency: dhl"),
        ("    agency: dishub", "    agency: parkir"),
    )
    with pytest.raises(CityFileError) as caught:
        load_city(path)
    agencies = "pupr, dlh, dishub, satpolpp, dispendukcapil, dinkes, dindik, dinsos, bagpem"
    pupr, jalan = line_of(path, "  - code: pupr"), line_of(path, "  - code: jalan")
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "timezone: unknown time zone 'Asia/Blitar'; Indonesian cities use Asia/Jakarta (WIB), "
        "Asia/Makassar (WITA) or Asia/Jayapura (WIT)",
        f"agencies.1.code: agency code pupr is already used on line {pupr}",
        f"categories.1.code: category code jalan is already used on line {jalan}",
        "categories.2.agency: unknown agency dhl (did you mean dlh?)",
        f"categories.3.agency: unknown agency parkir; known: {agencies}",
    ]
    assert [p.split(": ", 1)[0] for p in caught.value.problems] == [
        f"{path} line {line}"
        for line in (
            line_of(path, "Asia/Blitar"),
            pupr + 6,  # the second pupr
            jalan + 3,
            line_of(path, "agency: dhl"),
            line_of(path, "agency: parkir"),
        )
    ]


def test_an_agency_in_its_own_group_and_a_topic_at_once_is_refused(tmp_path: Path) -> None:
    path = city_file(
        tmp_path,
        ("    chat_id: null ", f"    chat_id: {PUPR_CHAT} "),
        ("use_topic: false", "use_topic: true"),
    )
    with pytest.raises(CityFileError) as caught:
        load_city(path)
    [problem] = caught.value.problems
    assert problem == (
        f"{path} line {line_of(path, '- code: pupr')}: agencies.0: agency pupr: chat_id and "
        "use_topic together; an agency works either in its own group or in a topic of the "
        "admin group"
    )


def test_a_typo_inside_an_agency_is_caught_too(tmp_path: Path) -> None:
    path = city_file(
        tmp_path, ("    officers: []\n  - code: perkim", "    oficers: []\n  - code: perkim")
    )
    with pytest.raises(CityFileError) as caught:
        load_city(path)
    assert caught.value.problems == [
        f"{path} line {line_of(path, 'oficers')}: agencies.0.oficers: unknown key "
        "(did you mean officers?)"
    ]


def test_an_unquoted_time_is_not_read_as_minutes(tmp_path: Path) -> None:
    # YAML 1.1 reads 7:30 as 450 (base 60), which would quietly become 00:07:30.
    path = city_file(tmp_path, ('digest_time: "07:30"', "digest_time: 7:30"))
    with pytest.raises(CityFileError, match="digest_time"):
        load_city(path)
    assert load_city(city_file(tmp_path, ('digest_time: "07:30"', "digest_time: 06:45")))


# -- the command -------------------------------------------------------------------------


async def test_check_lists_every_problem_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = city_file(tmp_path, ('city_name: "Kota Blitar"', 'city_nama: "Kota Blitar"'))
    monkeypatch.setenv("CITY_CONFIG_PATH", str(path))
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'dtaa' / 'a.db'}")
    monkeypatch.setenv("MEDIA_DIR", str(tmp_path / "medai" / "photos"))
    assert await check.run(online=False) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "problem: LOG_LEVEL must be one of: DEBUG, INFO, WARNING, ERROR, CRITICAL",
        f"problem: {path} line {line_of(path, 'city_nama')}: city_nama: unknown key "
        "(did you mean city_name?)",
        f"problem: DATABASE_URL: the folder {tmp_path / 'dtaa'} of the SQLite file does not "
        "exist; create it or correct the path",
        f"problem: MEDIA_DIR {tmp_path / 'medai' / 'photos'}: the folder "
        f"{tmp_path / 'medai'} does not exist; create it or correct the path",
        "4 problems found",
    ]
    assert not (tmp_path / "dtaa").exists()


async def test_check_names_a_positive_admin_chat_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ADMIN_CHAT_ID", "1234567")
    assert await check.run(online=False) == 1
    out = capsys.readouterr().out
    assert "problem: ADMIN_CHAT_ID must be a group's id, which is negative" in out
    assert TOKEN not in out


async def test_check_passes_a_good_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ADMIN_CHAT_ID", str(ADMIN_CHAT_ID))
    assert await check.run(online=False) == 0
    out = capsys.readouterr().out
    sample = load_city(PACKAGE_DIR / "city.yaml")
    assert (
        f"ok: {PACKAGE_DIR / 'city.yaml'}: Kota Blitar, {len(sample.categories)} categories, "
        f"{len(sample.agencies)} agencies"
    ) in out
    assert not (tmp_path / "data").exists()  # checking creates nothing


# -- online: Telegram and the database ---------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.group(chat_id=ADMIN_CHAT_ID, title="Meja Aduan", is_forum=True)
        server.group(chat_id=PUPR_CHAT, title="PUPR")
        yield server


@pytest.fixture
async def online(
    fake: FakeTelegram, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A configured city: PUPR in its own group, DLH in a topic of the admin group."""
    path = city_file(
        tmp_path,
        ("    chat_id: null ", f"    chat_id: {PUPR_CHAT} "),
        ("  - code: dlh\n", "  - code: dlh\n    use_topic: true\n"),
    )
    for key, value in {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "ADMIN_CHAT_ID": str(ADMIN_CHAT_ID),
        "DATABASE_URL": database_url,
        "CITY_CONFIG_PATH": str(path),
        "MEDIA_DIR": str(tmp_path / "media"),
    }.items():
        monkeypatch.setenv(key, value)
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    return database_url


async def problems(capsys: pytest.CaptureFixture[str]) -> list[str]:
    status = await check.run(online=True)
    out = capsys.readouterr().out.splitlines()
    found = [line.removeprefix("problem: ") for line in out if line.startswith("problem: ")]
    assert status == (1 if found else 0), out
    return found


async def test_online_check_passes_when_the_bot_is_set_up(
    online: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = await check.run(online=True)
    out = capsys.readouterr().out
    assert status == 0, out
    assert "ok: TELEGRAM_BOT_TOKEN: the bot is @kanal_aduan_bot" in out
    assert f"ok: ADMIN_CHAT_ID: the bot is an administrator of Meja Aduan ({ADMIN_CHAT_ID})" in out
    assert f"ok: agency pupr chat_id: the bot is an administrator of PUPR ({PUPR_CHAT})" in out
    assert "is reachable and up to date" in out


async def test_online_check_finds_a_bot_that_is_no_admin_or_cannot_make_topics(
    online: str, fake: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.chat(ADMIN_CHAT_ID).bot_lacks = {"can_manage_topics"}
    fake.chat(PUPR_CHAT).bot_status = "member"
    assert await problems(capsys) == [
        f"ADMIN_CHAT_ID: not enough rights to create topics in Meja Aduan ({ADMIN_CHAT_ID}) "
        "(agencies dlh): give the bot the Manage topics right",
        f"agency pupr chat_id: the bot is not an admin of PUPR ({PUPR_CHAT}): make it an "
        "administrator (group info, Administrators, Add Admin) so it reads the officers' "
        "replies",
    ]


async def test_online_check_finds_a_group_without_topics_and_an_unknown_chat(
    online: str, fake: FakeTelegram, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.chat(ADMIN_CHAT_ID).is_forum = False
    del fake.chats[PUPR_CHAT]
    assert await problems(capsys) == [
        f"ADMIN_CHAT_ID: agencies dlh use topics, but Meja Aduan ({ADMIN_CHAT_ID}) has no "
        "topics: turn on Topics in the group's settings",
        f"agency pupr chat_id {PUPR_CHAT}: chat not found: the id is wrong or the bot is not "
        "in that group; add the bot to the group and send /id@kanal_aduan_bot there",
    ]


async def test_online_check_finds_a_wrong_token(
    online: str,
    fake: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:WRONG-wrong-wrong-wrong-wrong-wrong")
    assert await problems(capsys) == [
        f"the Telegram Bot API at {fake.base_url} refused TELEGRAM_BOT_TOKEN: the token is "
        "wrong or was revoked; copy it again from @BotFather (/mybots, API Token), and check "
        "that TELEGRAM_API_BASE_URL is a Bot API server"
    ]


async def test_online_check_finds_a_database_behind_the_code(
    online: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(online)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    await engine.dispose()
    [problem] = await problems(capsys)
    assert problem.startswith("DATABASE_URL: the database ")
    assert problem.endswith(
        " is at schema 0001, this version needs "
        + (await _head(online))
        + ": run `aduan migrate` (`aduan run` does it too)"
    )


async def _head(url: str) -> str:
    engine = create_engine(url)
    try:
        _, head = await migrate.revisions(engine)
    finally:
        await engine.dispose()
    assert head is not None
    return head


async def test_online_check_does_not_create_a_missing_sqlite_database(
    online: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "typo.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    assert await problems(capsys) == [
        f"DATABASE_URL: there is no database at {missing} yet; `aduan migrate` creates it "
        "(`aduan run` does too)"
    ]
    assert not missing.exists()


async def test_online_check_asks_the_graph_api_for_the_whatsapp_number_and_token(
    online: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeWhatsApp() as graph:
        for key, value in {
            "WHATSAPP_PHONE_NUMBER_ID": graph.phone_number_id,
            "WHATSAPP_ACCESS_TOKEN": graph.token,
            "WHATSAPP_APP_SECRET": "app-secret",
            "WHATSAPP_VERIFY_TOKEN": "verify",
            "WHATSAPP_API_BASE_URL": graph.base_url,
        }.items():
            monkeypatch.setenv(key, value)
        assert await problems(capsys) == []
        monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-expired")
        assert await problems(capsys) == [
            "WHATSAPP_ACCESS_TOKEN: the Graph API refuses it (expired or revoked); "
            "make a permanent system-user token"
        ]
        # A wrong address is named once; the real Graph API is not asked instead.
        monkeypatch.setenv("WHATSAPP_API_BASE_URL", f"{graph.base_url}/v23.0")
        [wrong] = await problems(capsys)
        assert wrong.startswith("WHATSAPP_API_BASE_URL") and "graph.facebook.com" not in wrong


async def test_check_refuses_plain_http_for_webhooks_and_a_redis_url_of_no_kind(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ADMIN_CHAT_ID", str(ADMIN_CHAT_ID))
    monkeypatch.setenv("TELEGRAM_MODE", "webhook")
    monkeypatch.setenv("PUBLIC_URL", "http://aduan.blitarkota.go.id")
    monkeypatch.setenv("REDIS_URL", "cache.local:6379:hunter2")
    assert await check.run(online=False) == 1
    out = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("ok: ")]
    assert out == [
        "problem: PUBLIC_URL must start with https:// for TELEGRAM_MODE=webhook: Telegram sends "
        "webhooks only over HTTPS (http:// only to 127.0.0.1 or localhost)",
        "problem: REDIS_URL must start with redis://, rediss:// or unix:// "
        "(e.g. redis://127.0.0.1:6379/0); leave it empty to run without Redis",
        "2 problems found",
    ]
    # The tests' and benchmarks' fake Bot API on this machine stays allowed.
    monkeypatch.setenv("PUBLIC_URL", "http://127.0.0.1:8443")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert await check.run(online=False) == 0


async def test_online_check_says_when_redis_does_not_answer(
    online: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    [problem] = await problems(capsys)
    assert problem.startswith("REDIS_URL: Redis at redis://127.0.0.1:1 does not answer (")
    assert problem.endswith(
        "start Redis there, correct REDIS_URL, or leave it empty to run without Redis"
    )
    assert "hunter2" not in problem


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL is not set")
async def test_online_check_pings_redis(
    online: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", os.environ["TEST_REDIS_URL"])
    assert await problems(capsys) == []
