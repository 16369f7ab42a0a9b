// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "feedback-rpc",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RPCCodec", targets: ["RPCCodec"]),
        .library(name: "FeedbackProtos", targets: ["FeedbackProtos"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        // Bytes <-> frames of protocol/SPEC.md. Imports NIOCore only; never sees a channel.
        .target(
            name: "RPCCodec",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        // Generated SwiftProtobuf messages of protocol/*.proto (scripts/generate-protos.sh).
        .target(
            name: "FeedbackProtos",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // `swift run -c release codec-bench`: codec throughput (BENCHMARKS.md).
        .executableTarget(
            name: "codec-bench",
            dependencies: [
                "RPCCodec", "FeedbackProtos",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/codec-bench"
        ),
        .testTarget(
            name: "RPCCodecTests",
            dependencies: [
                "RPCCodec", "FeedbackProtos",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
