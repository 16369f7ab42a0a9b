#!/usr/bin/env bash
# Regenerates the committed Swift (SwiftProtobuf) and Python (_pb2) code from protocol/*.proto.
# Never run by a build: run it by hand after changing a .proto, and commit the result.
# Needs Debian's protobuf-compiler and protoc-gen-swift (built here from the swift-protobuf
# version that Package.swift names, when it is not on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }

plugin=$(command -v protoc-gen-swift || true)
if [ -z "$plugin" ]; then
  version=1.39.0
  work=${TMPDIR:-/tmp}/protoc-gen-swift-$version
  if [ ! -x "$work/.build/release/protoc-gen-swift" ]; then
    rm -rf "$work"
    git clone -q --branch "$version" https://github.com/apple/swift-protobuf.git "$work"
    (cd "$work" && swift build -c release --product protoc-gen-swift)
  fi
  plugin=$work/.build/release/protoc-gen-swift
fi

out=Sources/FeedbackProtos/Generated
rm -rf "$out" && mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public --swift_opt=FileNaming=DropPath \
  --swift_out="$out" -I protocol protocol/*.proto
echo "generated: $(ls "$out" | tr '\n' ' ')"

python_out=clients/python/feedback_rpc/_proto
rm -f "$python_out"/*_pb2.py
protoc --python_out="$python_out" -I protocol protocol/*.proto
echo "generated: $(cd "$python_out" && ls ./*_pb2.py | tr '\n' ' ')"
