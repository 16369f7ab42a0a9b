#!/usr/bin/env bash
# Regenerates the committed Swift (SwiftProtobuf) and Python (_pb2.py and their .pyi stubs) code from
# protocol/*.proto. Never run by a build: run it by hand after changing a .proto, and commit the result.
# Needs Debian's protobuf-compiler and protoc-gen-swift (built here from the swift-protobuf
# version that Package.swift names, when it is not on PATH).
#   scripts/generate-protos.sh            Swift and Python
#   scripts/generate-protos.sh --python   Python only (no protoc-gen-swift needed, Swift files untouched)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python_only=false
case "${1:-}" in
  "") ;;
  --python) python_only=true ;;
  *) echo "usage: $0 [--python]" >&2; exit 2 ;;
esac

command -v protoc >/dev/null || { apt-get update -qq && apt-get install -y -qq protobuf-compiler; }

python_out=clients/python/feedback_rpc/_proto
rm -f "$python_out"/*_pb2.py "$python_out"/*_pb2.pyi
protoc --python_out="$python_out" --pyi_out="$python_out" -I protocol protocol/*.proto
echo "generated: $(cd "$python_out" && ls ./*_pb2.py ./*_pb2.pyi | tr '\n' ' ')"
$python_only && exit 0

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
