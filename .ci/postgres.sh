# Start the local PostgreSQL cluster (Debian's pg_ctlcluster) and make a role the tests can use to
# create throwaway databases. Sourced by .ci/run; also usable by hand: `source .ci/postgres.sh;
# start_postgres`. Sets PPS_ARCHIVE_TEST_PG_URL.
start_postgres() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  fi
  as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  $sudo pg_ctlcluster "$version" main start 2>/dev/null || $sudo pg_ctlcluster "$version" main status >/dev/null
  for _ in $(seq 1 30); do
    as_postgres psql -qAtc "select 1" >/dev/null 2>&1 && break
    sleep 1
  done
  as_postgres psql -qAtc "select 1 from pg_roles where rolname = 'pps_test'" | grep -q 1 \
    || as_postgres psql -qc "create role pps_test login createdb password 'pps_test'"
  PPS_ARCHIVE_TEST_PG_URL="postgresql+psycopg://pps_test:pps_test@127.0.0.1:5432/postgres"
  echo "PostgreSQL $version running; tests use $PPS_ARCHIVE_TEST_PG_URL"
}
