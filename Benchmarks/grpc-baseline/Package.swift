// swift-tools-version:6.1
// A no-op unary method over gRPC Swift 2 on a Unix socket, with gRPC Swift's own client: the baseline
// BENCHMARKS.md compares feedbackd with (scripts/bench.sh builds and runs it). Not part of the product.
import PackageDescription

let package = Package(
    name: "grpc-baseline",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    ],
    targets: [
        .executableTarget(
            name: "grpc-baseline",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
