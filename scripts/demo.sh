#!/usr/bin/env bash
# The main job end to end on the embedded SQLite default, in ./demo-output (safe to run again:
# it starts from scratch each time). Uses a demo passphrase: never use it for real records.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/demo-output"
rm -rf "$out"
mkdir -p "$out"
export PPS_ARCHIVE_HOME="$out/data"
export PPS_ARCHIVE_PASSPHRASE="demo passphrase - not for real records"
export PPS_ARCHIVE_STAFF="demo"
unset PPS_ARCHIVE_PASSPHRASE_FILE PPS_ARCHIVE_DATABASE_URL PPS_ARCHIVE_CONFIG
pa() { echo "+ pps-archive $*" >&2; .venv/bin/pps-archive "$@"; }

echo "== 1. set up the data directory, database and master key"
pa init
pa init   # idempotent: checks, changes nothing

echo "== 2. the case register"
pa case open PPS-2024-0137 --consent-to-store --as-of 2024-01-15
pa case open PPS-2024-0138 --anonymous --as-of 2024-02-01
pa case consent PPS-2024-0138 --store yes --as-of 2024-02-02
pa case consent PPS-2024-0137 --third-party "SEN Team" --allow --as-of 2024-01-15
pa case consent PPS-2024-0137 --third-party School --allow --as-of 2024-01-15
pa case consent PPS-2024-0137 --third-party School --withdraw --as-of 2024-03-01
pa case open PPS-2024-0139 --as-of 2024-03-10
pa case hold PPS-2024-0139 --reason safeguarding --note "concern reported to the LSCB" --as-of 2024-04-01
pa case touch PPS-2024-0137 --on 2024-06-30
pa case list --as-of 2025-01-10

echo "== 3. the audit log"
pa audit verify

echo
echo "Done. The data directory is $out/data (database: pps-archive.sqlite3)."
echo "Try: PPS_ARCHIVE_HOME=$out/data .venv/bin/pps-archive case list --json"
