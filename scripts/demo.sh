#!/usr/bin/env bash
# The main job end to end on the embedded SQLite default, in ./demo-output (it starts from scratch
# each time). A demo passphrase is used: never use it for real records.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/demo-output"
rm -rf "$out"
mkdir -p "$out/scans"
export PPS_ARCHIVE_HOME="$out/data"
export PPS_ARCHIVE_PASSPHRASE="demo passphrase - not for real records"
export PPS_ARCHIVE_STAFF="demo"
unset PPS_ARCHIVE_PASSPHRASE_FILE PPS_ARCHIVE_DATABASE_URL PPS_ARCHIVE_CONFIG
pa() { echo "+ pps-archive $*" >&2; .venv/bin/pps-archive "$@"; }
step() { echo; echo "== $*"; }

step "1. set up the data directory, database and master key (safe to run again)"
pa init
pa init

step "2. staff accounts (day one, with the recovery passphrase): each login opens its own key slot"
printf '%s\n' "alice keeps the garden shed key 41" > "$out/alice.pw"
printf '%s\n' "bob plays the tuba on tuesdays 17" > "$out/bob.pw"
chmod 600 "$out/alice.pw" "$out/bob.pw"
PPS_ARCHIVE_NEW_PASSWORD_FILE="$out/alice.pw" pa staff add alice --role manager
PPS_ARCHIVE_NEW_PASSWORD_FILE="$out/bob.pw" pa staff add bob --role manager
pa staff list
as() { local who=$1; shift; PPS_ARCHIVE_PASSWORD_FILE="$out/$who.pw" pa --user "$who" "$@"; }

step "2b. the case register: consent, third parties, holds"
pa case open PPS-2024-0137 --consent-to-store --as-of 2024-01-15
pa case consent PPS-2024-0137 --third-party "SEN Team" --allow --as-of 2024-01-15
pa case open PPS-2024-0138 --anonymous --consent-to-store --as-of 2024-02-01
pa case open PPS-2024-0139 --as-of 2024-03-10            # no consent to store yet
pa case hold PPS-2024-0138 --reason safeguarding --note "concern reported to the LSCB" --as-of 2024-04-01
pa coversheet PPS-2024-0137 --class EHCP --shred -o "$out/coversheet-example.pdf"

step "3. scans arrive (cover sheets, skew, a JPEG batch at 200 dpi, a G4 TIFF, two bad files)"
.venv/bin/python scripts/demo_scans.py "$out/scans"
ls "$out/scans"

step "4. intake: exactly as the daemon does it ('pps-archive watch' watches drop folders)"
pa ingest "$out"/scans/* || [ $? -eq 102 ]   # 102: a warning — some files went to quarantine (two are bad on purpose)
pa documents
pa review list
pa quarantine list

step "5. staff resolve the review queue once the parent's consent is recorded"
pa case consent PPS-2024-0139 --store yes --as-of 2024-07-01
for doc in $(.venv/bin/pps-archive review list --json | .venv/bin/python -c 'import json,sys; [print(d["id"]) for d in json.load(sys.stdin) if d["suggested_case_ref"] == "PPS-2024-0139"]'); do
  pa review assign "$doc" --case PPS-2024-0139 --retain
done

step "6. archive media: plan, build, verify, put in the cupboard"
pa media plan
# --now: this demo builds its one small disc at once (the office rule, media.planning = "fill-or-wait",
# waits for a fuller disc, at most media.max_wait_days)
pa media build --out "$out/discs" --now
for iso in "$out"/discs/*.iso; do
  # 103: a warning — the image file passed (every item decrypted and re-hashed), but it is not the
  # disc: burn it to a CD-R and run 'pps-archive media verify /dev/sr0' to unlock its paper
  pa media verify --full "$iso" || [ $? -eq 103 ]
  pa media store "$(basename "$iso" .iso)" --location "locked cupboard, shelf 1"
done
pa media list

step "7. archive-due and the shred list (retained paper only once its scan is on a disc verified from the drive)"
# the scans filed today are activity on their cases: look seven months ahead, when they fall due
in7m=$(date -u -d "+7 months" +%F); in7y=$(date -u -d "+7 years" +%F)
pa archive-due --as-of "$in7m"
pa shred-list --pdf "$out/shred-list.pdf"

step "8. the annual disposal run against the discs, by two people: a dry run may look ahead; the real run runs on today's date"
pa dispose --media "$out"/discs/*.iso --as-of "$in7y" --dry-run
pa dispose --media "$out"/discs/*.iso --as-of "$in7y" --yes || [ $? -eq 31 ]   # 31: refused, a later date
pa dispose --media "$out"/discs/*.iso --yes || [ $? -eq 66 ]   # 66: refused, one person alone (lifecycle.disposal_approvers = 2)
# alice prepares the plan (saved with its hash); bob, a different manager, approves that exact plan; then it runs
plan=$(as alice dispose --media "$out"/discs/*.iso --prepare --json)
plan_id=$(echo "$plan" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["id"])')
plan_hash=$(echo "$plan" | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)["sha256"])')
as alice dispose --approve "$plan_id" --plan-hash "$plan_hash" --yes || [ $? -eq 67 ]   # 67: not by the one who prepared it
as bob dispose --approve "$plan_id" --plan-hash "$plan_hash" --yes
as bob dispose --execute "$plan_id" --media "$out"/discs/*.iso --yes

step "9. anonymous statistics and the audit chain"
pa stats --as-of "$in7y"
pa audit verify

echo
echo "Done. Look in $out:"
echo "  data/           the data directory (database pps-archive.sqlite3, encrypted vault, certificates/)"
echo "  discs/          the CD images; each holds README.TXT saying how to decrypt an item with 'age'"
echo "  shred-list.pdf  the printable shred list; coversheet-example.pdf  a cover sheet"
echo "Try: PPS_ARCHIVE_HOME=$out/data .venv/bin/pps-archive case list"
