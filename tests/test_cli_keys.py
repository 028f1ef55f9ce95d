"""``tradewind keys create|list|revoke`` as a user runs them (real processes on a real SQLite file):
a key is printed once and works, ``list`` never shows a secret, ``revoke`` ends it, bad input is
one line naming the field, printed literally."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tradewind.adapters.api_keys import ApiKeys
from tradewind.storage.api_keys import SqlApiKeyStore
from tradewind.storage.db import create_engine_for


def tradewind(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWIND_")}
    environ.update({"TRADEWIND_DATABASE_URL": f"sqlite:///{tmp_path / 'tw.db'}", "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "tradewind", "keys", *args], cwd=tmp_path, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_create_list_and_revoke_a_key(tmp_path: Path) -> None:
    created = tradewind("create", "--name", "ci bot", "--scope", "trade", tmp_path=tmp_path)
    assert created.returncode == 0, created.stderr
    (key,) = re.findall(r"^tw_[0-9a-f]{12}_[\w-]{40,}$", created.stdout, flags=re.M)
    key_id = key.split("_")[1]
    keys = ApiKeys(SqlApiKeyStore(create_engine_for(f"sqlite:///{tmp_path / 'tw.db'}")))
    verified = keys.verify(key)
    assert verified is not None and (verified.id, verified.scope, verified.name) == (key_id, "trade", "ci bot")
    listed = tradewind("list", tmp_path=tmp_path)
    assert listed.returncode == 0 and key_id in listed.stdout and "ci bot" in listed.stdout
    assert key.split("_", 2)[2] not in listed.stdout and key not in listed.stdout  # a prefix only
    revoked = tradewind("revoke", key_id, tmp_path=tmp_path)
    assert revoked.returncode == 0 and f"revoked key {key_id}" in revoked.stdout
    assert ApiKeys(keys.store).verify(key) is None
    assert "UTC" in tradewind("list", tmp_path=tmp_path).stdout.split(key_id, 1)[1].splitlines()[0]  # revoked at


def test_bad_input_is_one_line_naming_the_field_printed_literally(tmp_path: Path) -> None:
    bad_scope = tradewind("create", "--name", "x", "--scope", "root", tmp_path=tmp_path)
    assert bad_scope.returncode == 2 and bad_scope.stderr.strip().count("\n") == 0
    assert "scope must be one of read, trade, admin" in bad_scope.stderr
    markup = tradewind("create", "--name", "[red]boom[/red]", tmp_path=tmp_path)
    assert markup.returncode == 2 and "[red]boom[/red]" in markup.stderr
    unknown = tradewind("revoke", "[bold]nope", tmp_path=tmp_path)
    assert unknown.returncode == 1 and "no API key '[bold]nope'" in unknown.stderr
