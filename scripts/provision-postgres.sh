#!/usr/bin/env bash
# Makes sure a local PostgreSQL server is running with pgvector and a role the test suite
# can use, then prints that role's URL (for TEST_DATABASE_URL). The suite creates and drops
# one database per test file, and migrations create the `vector` extension, which is not a
# trusted extension — hence a superuser role, local to this machine's test server.
#
#   TEST_DATABASE_URL=$(scripts/provision-postgres.sh) pnpm test
set -euo pipefail

role=${NESTFLEET_TEST_ROLE:-nestfleet_test}
password=${NESTFLEET_TEST_PASSWORD:-nestfleet_test}
host=127.0.0.1
port=${NESTFLEET_TEST_PORT:-5432}

as_postgres() {
  if [ "$(id -un)" = postgres ]; then "$@"; elif [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  echo "PostgreSQL is not installed (expected Debian's postgresql package)" >&2
  exit 1
fi

# Start every cluster that is down (Debian's wrapper; no systemd needed).
pg_lsclusters --no-header | while read -r version cluster _ status _; do
  if [ "$status" != online ]; then
    echo "Starting PostgreSQL $version/$cluster" >&2
    as_postgres pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start >&2 || \
      pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start >&2
  fi
done

for _ in $(seq 1 30); do
  as_postgres pg_isready -q -h "$host" -p "$port" && break
  sleep 1
done

"$(dirname "$0")/install-pgvector.sh" >&2

as_postgres psql -q -v ON_ERROR_STOP=1 -p "$port" -d postgres >&2 <<SQL
do \$\$
begin
  if not exists (select from pg_roles where rolname = '${role}') then
    create role ${role} login superuser password '${password}';
  end if;
end
\$\$;
SQL

echo "postgresql://${role}:${password}@${host}:${port}/postgres"
