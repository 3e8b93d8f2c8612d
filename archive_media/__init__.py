"""Keys and encryption, the vault, CD images: building, reading, verifying.

Public modules (each imports its heavy libraries only when used, so importing this package is
instant):

- :mod:`archive_media.keys` -- master key (scrypt-wrapped), per-case age keys, disc signing key
- :mod:`archive_media.envelope` -- encrypt/decrypt one document as a plain age file
- :mod:`archive_media.vault` -- encrypted blobs under opaque ids
- :mod:`archive_media.iso` -- build a disc image; read and verify one (``read_disc``,
  ``verify_quick``, ``verify_full``)

This package never imports ``pipeline`` or ``scanners``: it takes and returns plain values
(bytes, paths, frozen dataclasses) and the pipeline stores them. Formats: docs/formats.md.
"""
