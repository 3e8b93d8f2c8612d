"""README.TXT: what the disc is and how to check and decrypt it with standard tools only."""

from __future__ import annotations

from archive_media._disc_layout import DiscContent, item_file

_TEMPLATE = """\
ARCHIVE DISC {label}
{rule}

This disc belongs to {service}.
It holds {count} archived documents, each encrypted on its own with the key of
the case it belongs to. Without that key nothing on the disc can be read. The
names of the people concerned appear nowhere on the disc: the index lists only
opaque item ids, case references and disposal dates.

  Archive id:   {archive}
  Made on:      {created}
  Head of the audit log's hash chain when the disc was made:
    {audit}
  Fingerprint of the key that signed the index:
    {fingerprint}

FILES
  README.TXT     this text
  MANIFEST.TXT   SHA-256 of every other file on the disc (sha256sum format)
  INDEX.JSN      the disposal schedule (JSON): for each item its file on this
                 disc, item id, case reference, dispose-after date, size and
                 SHA-256, and the SHA-256 of this README
  INDEX.SIG      Ed25519 signature of INDEX.JSN (64 raw bytes): it covers
                 this README too
  PUBKEY.TXT     the archive's public signing key (PEM)
  AUDIT.TXT      the head of the audit log's hash chain when the disc was made
  ITEMS/         the documents, one age-encrypted file each ({first_name}, ...)

CHECK THE DISC (from the folder where the disc is mounted)
  sha256sum -c MANIFEST.TXT
  openssl pkeyutl -verify -pubin -inkey PUBKEY.TXT -rawin \\
          -in INDEX.JSN -sigfile INDEX.SIG
  sha256sum README.TXT    (must equal "readme_sha256" in INDEX.JSN)
  Then check that the signing key fingerprint above is the one pps-archive
  shows for this archive: a disc with another key is not one of ours.
  With pps-archive:  pps-archive media verify DISC.iso [--full]
  If the image was made with dvdisaster error-correction data (RS02), a
  damaged disc can be read with 'dvdisaster -r' and repaired with
  'dvdisaster -f' (Debian package dvdisaster).

DECRYPT ONE DOCUMENT WITHOUT PPS-ARCHIVE
  Each file in ITEMS/ is a standard age file (https://age-encryption.org/v1).
  The age tool is free software: on Debian or Ubuntu, 'apt install age'.
  1. In INDEX.JSN, find the item: its "file" and its "case".
  2. On the archive computer, export that case's key to a private folder:
       pps-archive keys export-case <case reference> --out case.key
  3. Decrypt:
       age -d -i case.key -o document.pdf ITEMS/{first_name}
  The result is the archived document, a PDF, byte for byte. Keep the key
  file and the PDF in a private folder and delete both when you are done.

DISPOSAL
  Every case has its own key. When a case passes its dispose-after date its key
  is destroyed (cryptographic erase): its files on this disc can then never be
  decrypted again, by anyone. When every item on this disc is past its date,
  the disc itself is listed for physical destruction.
"""


def readme_text(content: DiscContent, fingerprint: str) -> bytes:
    first = item_file(1)
    text = _TEMPLATE.format(
        label=content.label,
        rule="=" * (len("ARCHIVE DISC ") + len(content.label)),
        service=content.service_name,
        count=len(content.items),
        archive=content.archive_id,
        created=content.created or "(not recorded)",
        audit=content.audit_head,
        fingerprint=fingerprint,
        first=first,
        first_name=first.split("/")[1],
    )
    return text.encode("ascii")
