"""The vault: opaque ids, 0600 blobs in 0700 folders, atomic writes, nothing but ciphertext."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from archive_media import keys
from archive_media.vault import Vault
from pps_archive.errors import IntegrityError, InvalidValue
from tests.archive_media.conftest import SECRET_WORDS, make_docs


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_put_stores_only_ciphertext_under_an_opaque_id(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    case_key = keys.new_case_key()
    docs = make_docs(tmp_path / "work")
    items = [vault.put(d.path, case_key.recipient) for d in docs]

    assert _mode(tmp_path / "vault") == 0o700
    for doc, item in zip(docs, items, strict=True):
        path = vault.path_of(item.item_id)
        assert path.parent.parent == tmp_path / "vault" and path.parent.name == item.item_id[:2]
        assert path.name == f"{item.item_id}.age"
        assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
        assert item.size == path.stat().st_size and item.plaintext_size == len(doc.data)
        assert doc.path.read_bytes() == doc.data  # the plaintext is the caller's to remove
    assert sorted(vault.item_ids()) == sorted(i.item_id for i in items)

    # nothing in the vault names a person, a case, or the plaintext hash
    everything = b"".join(p.name.encode() + (p.read_bytes() if p.is_file() else b"") for p in (tmp_path / "vault").rglob("*"))
    for word in SECRET_WORDS + ("PPS-",):
        assert word.encode() not in everything
    for item in items:
        assert item.plaintext_sha256.encode() not in everything
    assert {p.suffix for p in (tmp_path / "vault").rglob("*") if p.is_file()} == {".age"}


def test_decrypt_to_checks_the_recorded_hash(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    case_key = keys.new_case_key()
    a, b = make_docs(tmp_path / "work")[:2]
    item_a, item_b = vault.put(a.path, case_key.recipient), vault.put(b.path, case_key.recipient)
    vault.decrypt_to(item_a.item_id, case_key.identity, tmp_path / "a.pdf", item_a.plaintext_sha256)
    assert (tmp_path / "a.pdf").read_bytes() == a.data

    # someone moves blob A under B's id: it still decrypts with the case key, but it is not B
    os.replace(vault.path_of(item_a.item_id), vault.path_of(item_b.item_id))
    with pytest.raises(IntegrityError, match="another document"):
        vault.decrypt_to(item_b.item_id, case_key.identity, tmp_path / "b.pdf", item_b.plaintext_sha256)
    assert not (tmp_path / "b.pdf").exists()
    with pytest.raises(IntegrityError, match="missing"):
        vault.open_item(item_a.item_id)


def test_delete(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "vault")
    (tmp_path / "p").write_bytes(b"x")
    item = vault.put(tmp_path / "p", keys.new_case_key().recipient)
    assert vault.exists(item.item_id)
    assert vault.delete(item.item_id) is True
    assert not vault.exists(item.item_id) and vault.delete(item.item_id) is False
    assert list(vault.item_ids()) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 32, "abc", "0" * 31 + "/"])
def test_ids_cannot_escape_the_vault(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidValue):
        Vault(tmp_path / "vault").path_of(bad)


def test_existing_vault_folder_is_made_private(tmp_path: Path) -> None:
    (tmp_path / "vault").mkdir(mode=0o755)
    os.chmod(tmp_path / "vault", 0o755)
    Vault(tmp_path / "vault")
    assert _mode(tmp_path / "vault") == 0o700


def test_a_write_that_fails_half_way_leaves_no_blob(tmp_path: Path) -> None:
    """A real failed write (file-size limit hit after 256 KiB of a 2 MiB blob) in a child process."""
    (tmp_path / "big").write_bytes(os.urandom(2 << 20))
    recipient = keys.new_case_key().recipient
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        from pathlib import Path
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        from archive_media.vault import Vault
        vault = Vault(Path({str(tmp_path / 'vault')!r}))
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
        try:
            vault.put(Path({str(tmp_path / 'big')!r}), {recipient!r})
        except OSError as exc:
            print("failed", exc.errno)
            sys.exit(0)
        print("no failure")
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("failed"), proc.stdout + proc.stderr
    assert [p for p in (tmp_path / "vault").rglob("*") if p.is_file()] == []
