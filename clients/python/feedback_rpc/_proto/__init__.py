"""Generated protobuf modules (scripts/generate-protos.sh); do not edit."""
