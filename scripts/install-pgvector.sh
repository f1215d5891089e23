#!/usr/bin/env bash
# Builds and installs pgvector for the local PostgreSQL server from Debian's source package.
# Bookworm ships no pgvector package, so we take the source from trixie and build it against
# the installed server's headers. Idempotent: exits early when `vector` is already available.
set -euo pipefail

pg_major=${PG_MAJOR:-$(ls /usr/lib/postgresql | sort -n | tail -n 1)}
pg_config=/usr/lib/postgresql/${pg_major}/bin/pg_config
extdir=$("$pg_config" --sharedir)/extension

if [ -f "$extdir/vector.control" ]; then
  echo "pgvector already installed for PostgreSQL ${pg_major}"
  exit 0
fi

sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)

src_list=/etc/apt/sources.list.d/trixie-src.sources
if [ ! -f "$src_list" ]; then
  "${sudo_cmd[@]}" tee "$src_list" >/dev/null <<SOURCES
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi

"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq "postgresql-server-dev-${pg_major}" dpkg-dev make gcc >/dev/null

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"
apt-get source -qq pgvector >/dev/null 2>&1 || apt-get source pgvector
cd "$(find . -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)"
make -s PG_CONFIG="$pg_config" OPTFLAGS="" >/dev/null
"${sudo_cmd[@]}" make -s PG_CONFIG="$pg_config" install >/dev/null
echo "pgvector installed for PostgreSQL ${pg_major}"
