#!/bin/sh
# Runs protoc-c for the event contract and the internal state records and
# flattens the output into one build folder (Meson outputs cannot live in
# subfolders), rewriting the generated includes to match.
# usage: gen-protoc-c.sh PROTOC_C SRCDIR WKT_INCLUDE OUTDIR
set -eu
protoc_c=$1 srcdir=$2 wkt=$3 outdir=$4
tmp=$(mktemp -d "$outdir/.protoc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$protoc_c" --proto_path="$srcdir" --proto_path="$wkt" --c_out="$tmp" \
    gamification/v1/event.proto gamification/v1/outbound.proto internal/state.proto \
    google/protobuf/timestamp.proto google/protobuf/wrappers.proto
for f in "$tmp"/gamification/v1/* "$tmp"/internal/* "$tmp"/google/protobuf/*; do
    sed -e 's|#include "gamification/v1/|#include "|' \
        -e 's|#include "google/protobuf/|#include "|' \
        -e 's|#include "internal/|#include "|' "$f" > "$outdir/$(basename "$f")"
done
