"""The demo's local identities: a keyring of its reviewer and owner whose keys are created once,
kept out of the repository and reused on a re-run (so earlier signatures still verify)."""

from __future__ import annotations

import stat
from pathlib import Path

from pipelines import demo, signing


def test_demo_keyring_is_created_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("KEQUN_KEY_DIR", raising=False)
    out = tmp_path / "demo"
    out.mkdir()
    folder = demo.demo_key_dir(out)
    assert folder == (out / "keys").resolve()
    first = demo.demo_keyring(out, folder).read_text(encoding="utf-8")
    for person in (demo.REVIEWER, demo.OWNER):
        key = folder / f"{person}.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert demo.demo_keyring(out, folder).read_text(encoding="utf-8") == first  # same keys on a re-run
    monkeypatch.setenv("KEQUN_KEYRING", str(out / "keyring.yaml"))
    ring = signing.load_keyring()
    assert ring.require(demo.REVIEWER, "reviewer") and ring.require(demo.OWNER, "owner")
    assert ring.person(demo.REVIEWER).public_key != ring.person(demo.OWNER).public_key


def test_demo_keys_never_go_into_the_repository(monkeypatch, tmp_path):
    monkeypatch.delenv("KEQUN_KEY_DIR", raising=False)
    inside = Path(signing.REPO_ROOT) / "kequn-demo"
    assert demo.demo_key_dir(inside) == signing.key_dir()  # ~/.kequn/keys, not kequn-demo/keys
    monkeypatch.setenv("KEQUN_KEY_DIR", str(tmp_path / "mine"))
    assert demo.demo_key_dir(tmp_path / "demo") == tmp_path / "mine"
