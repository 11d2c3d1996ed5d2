#!/usr/bin/env bash
# Refreshes the playground's vendored assets from the npm registry:
#   refresh-assets.sh GRAPHIQL_VERSION REACT_VERSION
# For each package it downloads the tarball with `npm pack`, checks the
# tarball against the registry's dist.integrity (sha512), extracts the
# browser bundles into assets/ and writes assets/manifest.json with their
# sha384 SRI hashes, which the page puts in its integrity attributes. Run it
# through `make playground-assets`; the build itself never downloads.
set -euo pipefail
graphiql="${1:?graphiql version}"
react="${2:?react version}"
here="$(cd "$(dirname "$0")" && pwd)"
assets="$here/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

sri() { printf '%s-%s' "$1" "$(openssl dgst "-$1" -binary "$2" | base64 -w0)"; }

packages=()
files=()
# fetch NAME VERSION SOURCE... : downloads, verifies and extracts NAME@VERSION.
fetch() {
  local name="$1" version="$2"
  shift 2
  local want tarball got
  want="$(npm view "$name@$version" dist.integrity)"
  tarball="$(npm view "$name@$version" dist.tarball)"
  [ -n "$want" ] || { echo "$name@$version: the registry gave no dist.integrity" >&2; exit 1; }
  (cd "$work" && npm pack --silent "$name@$version" >/dev/null)
  local tgz="$work/$name-$version.tgz"
  got="$(sri sha512 "$tgz")"
  if [ "$got" != "$want" ]; then
    echo "$name@$version: tarball integrity $got, the registry says $want" >&2
    exit 1
  fi
  mkdir -p "$work/$name"
  tar -xzf "$tgz" -C "$work/$name"
  packages+=("$(printf '{"name": "%s", "version": "%s", "tarball": "%s", "integrity": "%s"}' "$name" "$version" "$tarball" "$want")")
  [ -f "$work/$name/package/LICENSE" ] && cp "$work/$name/package/LICENSE" "$assets/LICENSE.$name"
  local src base
  for src in "$@"; do
    base="$(basename "$src")"
    cp "$work/$name/package/$src" "$assets/$base"
    files+=("$(printf '{"name": "%s", "package": "%s", "version": "%s", "source": "%s", "integrity": "%s"}' "$base" "$name" "$version" "$src" "$(sri sha384 "$assets/$base")")")
  done
}

mkdir -p "$assets"
rm -f "$assets"/react.production.min.js "$assets"/react-dom.production.min.js "$assets"/graphiql.min.js "$assets"/graphiql.min.css
fetch react "$react" umd/react.production.min.js
fetch react-dom "$react" umd/react-dom.production.min.js
fetch graphiql "$graphiql" graphiql.min.js graphiql.min.css

# The page may load nothing from elsewhere: refuse a stylesheet that does.
if grep -oE 'url\([^)]*\)|@import[^;]*' "$assets/graphiql.min.css" | grep -vE '^url\((["'\'']?)data:' | grep -q .; then
  echo "graphiql.min.css refers to something other than data: URLs:" >&2
  grep -oE 'url\([^)]*\)|@import[^;]*' "$assets/graphiql.min.css" | grep -vE '^url\((["'\'']?)data:' | head >&2
  exit 1
fi

join() { local IFS=,; echo "$*"; }
{
  echo '{'
  echo '  "packages": ['
  printf '    %s\n' "$(join "${packages[@]}" | sed 's/},{/},\n    {/g')"
  echo '  ],'
  echo '  "files": ['
  printf '    %s\n' "$(join "${files[@]}" | sed 's/},{/},\n    {/g')"
  echo '  ]'
  echo '}'
} >"$assets/manifest.json"
echo "playground assets: graphiql $graphiql, react $react (manifest in $assets/manifest.json)"
