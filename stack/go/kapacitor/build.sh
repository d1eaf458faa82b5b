#!/usr/bin/env bash
# Build kapacitord and kapacitor from the Kapacitor release go.mod requires, with our patches.
#
#   stack/go/kapacitor/build.sh OUT_DIR            patched: patches/*.patch applied in order
#   stack/go/kapacitor/build.sh --stock OUT_DIR    the release as published (the bench compares both)
#
# The release's source comes from the Go module cache (the module proxy fills it), is copied to
# a folder of ours outside the tree, $XDG_CACHE_HOME/tickml/kapacitor-src/VERSION-PATCHES, made
# writable and patched with `patch -p1`; a patch that does not apply stops the build. The build then
# uses a temporary copy of this folder's go.mod with a `replace` to that folder, so the checked-in
# go.mod stays the release's and the build is reproducible from the proxy alone. patches/README.md
# says what each patch is for. Caller's environment: CGO_ENABLED, PKG_CONFIG and the Rust settings
# libflux needs (stack/install.sh sets them).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stock=0
if [[ "${1:-}" == "--stock" ]]; then stock=1; shift; fi
[[ $# -eq 1 ]] || { echo "usage: $0 [--stock] OUT_DIR" >&2; exit 2; }
mkdir -p "$1"
OUT="$(cd "$1" && pwd)"
MODULE=github.com/influxdata/kapacitor

cd "$HERE"
VERSION="$(go list -m -f '{{.Version}}' "$MODULE")"
shopt -s nullglob
PATCHES=("$HERE"/patches/*.patch)
shopt -u nullglob
patches_id="$(cat /dev/null "${PATCHES[@]}" | sha256sum | cut -c1-12)"
commit=module
((stock)) || commit="tickml-patches-$patches_id"
ldflags="-X main.version=${VERSION#v} -X main.branch=release -X main.commit=$commit"
targets=("$MODULE/cmd/kapacitord" "$MODULE/cmd/kapacitor")

if ((stock)); then
  exec go build -ldflags "$ldflags" -o "$OUT/" "${targets[@]}"
fi

# The patched source: made once per release and patch series, whole or not at all.
SRC_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tickml/kapacitor-src"
src="$SRC_CACHE/$VERSION-$patches_id"
if [[ ! -f "$src/.tickml-patched" ]]; then
  go mod download "$MODULE@$VERSION"
  release="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -d "$release" ]] || { echo "build.sh: no module folder for $MODULE@$VERSION" >&2; exit 1; }
  tmp="$src.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$SRC_CACHE"
  cp -R "$release" "$tmp"
  chmod -R u+w "$tmp"
  for p in "${PATCHES[@]}"; do
    if ! patch -p1 --batch --forward --no-backup-if-mismatch -s -d "$tmp" < "$p"; then
      rm -rf "$tmp"
      echo "build.sh: ${p##*/} does not apply to $MODULE $VERSION (patches/README.md says how to drop or redo it)" >&2
      exit 1
    fi
  done
  touch "$tmp/.tickml-patched"
  rm -rf "$src"
  mv "$tmp" "$src"
fi

# go.mod and go.sum, with the replace, in a folder of their own (-modfile: the sums go beside it).
mod="$(mktemp -d)"
trap 'rm -rf "$mod"' EXIT
cp go.mod "$mod/kapacitor.mod"
cp go.sum "$mod/kapacitor.sum"
go mod edit -modfile="$mod/kapacitor.mod" -replace "$MODULE=$src"
go build -modfile="$mod/kapacitor.mod" -ldflags "$ldflags" -o "$OUT/" "${targets[@]}"
