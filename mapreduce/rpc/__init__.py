"""Generated protobuf / gRPC code for MapReduce (run `./dev protos`); do not edit."""
