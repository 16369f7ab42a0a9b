// swift-tools-version:6.1
import PackageDescription

let nioCore = Target.Dependency.product(name: "NIOCore", package: "swift-nio")
let nioPosix = Target.Dependency.product(name: "NIOPosix", package: "swift-nio")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let lifecycle = Target.Dependency.product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")
let metrics = Target.Dependency.product(name: "CoreMetrics", package: "swift-metrics")

let package = Package(
    name: "feedback-rpc",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RPCCodec", targets: ["RPCCodec"]),
        .library(name: "FeedbackClient", targets: ["FeedbackClient"]),
        .executable(name: "feedback-gateway", targets: ["feedback-gateway"]),
        .executable(name: "feedbackd", targets: ["feedbackd"]),
        .executable(name: "feedbackctl", targets: ["feedbackctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // OneShot: a value set once and awaited by any number of tasks (the one hand-over primitive).
        .target(name: "AsyncOneShot"),
        // Bytes <-> frames of protocol/SPEC.md. Imports NIOCore only; never sees a channel.
        .target(name: "RPCCodec", dependencies: [nioCore]),
        // Status codes, the RPC error, metadata, the router and the call executor (every call rule, once),
        // the in-process transport. No sockets, no NIO.
        .target(name: "RPCCore", dependencies: ["AsyncOneShot", logging, .product(name: "Metrics", package: "swift-metrics")]),
        // The Unix-socket server and client connection: joins RPCCodec and RPCCore over NIOPosix
        .target(
            name: "RPCUnixTransport",
            dependencies: ["AsyncOneShot", "RPCCodec", "RPCCore", nioCore, nioPosix, logging, lifecycle, metrics]
        ),
        // Generated SwiftProtobuf messages of protocol/*.proto (scripts/generate-protos.sh).
        .target(name: "FeedbackProtos", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // Ratings, their validation and the store protocol. Imports no RPC, NIO or SQL module.
        .target(name: "FeedbackDomain", dependencies: [metrics, logging, lifecycle]),
        // The SQLite store (GRDB on the system libsqlite3) with group commit.
        .target(
            name: "FeedbackSQLite",
            dependencies: [
                "FeedbackDomain", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
                logging, lifecycle,
            ]
        ),
        // The PostgreSQL store (PostgresNIO's PostgresClient) with group commit, for more than one host.
        .target(
            name: "FeedbackPostgres",
            dependencies: [
                "AsyncOneShot", "FeedbackDomain", logging, lifecycle, metrics, nioCore, .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // JWT verification and development-token minting (jwt-kit).
        .target(name: "FeedbackAuth", dependencies: [.product(name: "JWTKit", package: "jwt-kit"), metrics]),
        // The RPC services: SubmitFeedback, health, and the authentication interceptor.
        .target(
            name: "FeedbackServer",
            dependencies: [
                "AsyncOneShot", "RPCCore", "FeedbackDomain", "FeedbackAuth", "FeedbackProtos", logging, metrics,
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // Log handlers (text with control characters escaped, JSON) and the one bootstrap of both executables.
        .target(name: "FeedbackLogging", dependencies: ["FeedbackDomain", logging]),
        // The guards of every HTTP listener (the gateway's port, both metrics ports): head, body, idle and
        // write deadlines and a connection cap, in front of Hummingbird's HTTP/1.1 channel.
        .target(
            name: "HTTPConnectionGuard",
            dependencies: [
                nioCore, logging,
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // `--metrics-listen` of both executables: Prometheus as the swift-metrics backend, and GET /metrics.
        .target(
            name: "FeedbackMetrics",
            dependencies: [
                "AsyncOneShot", "FeedbackVersion", "HTTPConnectionGuard", metrics, logging, lifecycle, nioCore,
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
            ]
        ),
        // The Swift client library for co-located services.
        .target(
            name: "FeedbackClient",
            dependencies: ["RPCUnixTransport", "RPCCore", "FeedbackProtos", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The flags both servers share (logging, metrics): one declaration, one validation; and their
        // notifications to systemd.
        .target(
            name: "FeedbackCommandLine",
            dependencies: [
                "CSystemd", "FeedbackLogging", "FeedbackMetrics", argumentParser, logging, lifecycle, nioCore, nioPosix,
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // libsystemd's sd_notify(3): readiness, watchdog and stopping for Type=notify units.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // Sets Swift Concurrency's global enqueue hook by a link-time reference (see its header).
        .target(name: "CConcurrencyHook"),
        // FEEDBACK_SOCKET, FEEDBACK_TOKEN and the default socket: what the three commands read alike.
        .target(name: "FeedbackEnvironment"),
        // The git describe of the build, for --version and feedback_build_info (written by the plugin).
        .target(name: "FeedbackVersion", plugins: ["BuildVersion"]),
        .plugin(name: "BuildVersion", capability: .buildTool()),
        .executableTarget(
            name: "feedbackd",
            dependencies: [
                "CConcurrencyHook", "FeedbackCommandLine", "FeedbackEnvironment", "FeedbackVersion",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"), "FeedbackServer", "FeedbackSQLite", "FeedbackPostgres", "FeedbackAuth", "FeedbackDomain",
                "FeedbackMetrics", "RPCCore", "RPCUnixTransport", argumentParser, logging, metrics, lifecycle, nioCore, nioPosix,
            ]
        ),
        .executableTarget(
            name: "feedbackctl",
            dependencies: [
                "FeedbackClient", "FeedbackEnvironment", "FeedbackVersion", "FeedbackAuth", "FeedbackProtos", "FastAPICompat", "RPCCodec", "RPCCore",
                nioCore, argumentParser, .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            // protocol/*.proto (Protocol links to it), for `describe`'s message definitions.
            exclude: ["Protocol/SPEC.md", "Protocol/vectors"],
            resources: [
                .embedInCode("Protocol/feedback.proto"), .embedInCode("Protocol/health.proto"),
                .embedInCode("Protocol/reflection.proto"), .embedInCode("Protocol/status.proto"),
            ]
        ),
        // The original endpoint's compatibility promise: Python-`json`-compatible parsing, pydantic-lax
        // integers and FastAPI-shaped validation errors. Pure Swift; no HTTP, no RPC.
        .target(name: "FastAPICompat"),
        // HTTP drop-in for the original POST /feedback, over a pool of feedbackd connections.
        .target(
            name: "FeedbackGateway",
            dependencies: [
                "FastAPICompat", "FeedbackAuth", "FeedbackClient", "HTTPConnectionGuard", "RPCCore", nioCore, logging, metrics,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            // The widget (clients/widget, linked here) is compiled into the binary: the gateway serves it
            // from any directory, with no files installed beside it.
            // So is the OpenAPI document of its HTTP API, served at /openapi.json.
            resources: [.embedInCode("Widget/feedback.js"), .embedInCode("Widget/demo.html"), .embedInCode("openapi.json")]
        ),
        .executableTarget(
            name: "feedback-gateway",
            dependencies: ["FeedbackCommandLine", "FeedbackEnvironment", "FeedbackVersion", "FeedbackGateway", "FeedbackAuth", "FeedbackMetrics", "RPCUnixTransport", argumentParser, logging, lifecycle,
                           .product(name: "Hummingbird", package: "hummingbird")]
        ),
        // `swift run -c release codec-bench`: codec throughput (BENCHMARKS.md).
        .executableTarget(name: "codec-bench", dependencies: ["RPCCodec", "FeedbackProtos", nioCore], path: "Benchmarks/codec-bench"),
        // `swift run -c release feedback-bench`: end-to-end calls/s against the limits (BENCHMARKS.md).
        .executableTarget(
            name: "feedback-bench",
            dependencies: [
                "FeedbackServer", "FeedbackSQLite", "FeedbackAuth", "FeedbackClient", "FeedbackDomain", "RPCUnixTransport",
                "RPCCore", logging, lifecycle, .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/feedback-bench"
        ),
        // Tests: one target per room, over a shared support library (servers, stores, processes, logs).
        .target(
            name: "FeedbackTestSupport",
            dependencies: [
                "RPCCodec", "RPCCore", "RPCUnixTransport", "FeedbackDomain", "FeedbackSQLite", "FeedbackPostgres", "FeedbackAuth",
                "FeedbackServer", "FeedbackClient", nioCore, logging, lifecycle, .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "RPCCodecTests",
            dependencies: [
                "RPCCodec", nioCore, .product(name: "NIOTestUtils", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "RPCCoreTests", dependencies: ["AsyncOneShot", "RPCCore", logging]),
        .testTarget(
            name: "RPCUnixTransportTests",
            dependencies: [
                "FeedbackTestSupport", "AsyncOneShot", "RPCCodec", "RPCCore", "RPCUnixTransport", "FeedbackClient", "FeedbackDomain", "FeedbackProtos",
                "FeedbackServer", nioCore, logging, lifecycle, .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "FeedbackStoreTests",
            dependencies: [
                "FeedbackTestSupport", "AsyncOneShot", "FeedbackDomain", "FeedbackSQLite", "FeedbackPostgres", "FeedbackAuth", "FeedbackServer",
                "FeedbackClient", "FeedbackProtos", "RPCCodec", "RPCCore", "RPCUnixTransport", logging,
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "FeedbackAuthTests",
            dependencies: [
                "FeedbackTestSupport", "FeedbackAuth", "FeedbackDomain", "FeedbackServer", "FeedbackClient", "RPCCodec", "RPCCore",
                "RPCUnixTransport", lifecycle, .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "FeedbackServerTests",
            dependencies: [
                "FeedbackTestSupport", "FeedbackServer", "FeedbackClient", "FeedbackDomain", "FeedbackProtos", "FeedbackLogging",
                "FeedbackMetrics", "RPCCodec", "RPCCore", "RPCUnixTransport", nioCore, nioPosix, logging, lifecycle,
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .testTarget(
            name: "FeedbackGatewayTests",
            dependencies: [
                "FeedbackTestSupport", "FeedbackGateway", "HTTPConnectionGuard", "FeedbackServer", "FeedbackDomain", "RPCCore", nioCore,
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        // The executables as processes: flags, signals, restarts, what feedbackctl prints.
        .testTarget(name: "FeedbackProcessTests", dependencies: ["FeedbackTestSupport", "FeedbackAuth", "FeedbackClient", "FeedbackProtos", "FeedbackVersion", "RPCCore"]),
        .testTarget(name: "FastAPICompatTests", dependencies: ["FastAPICompat"]),
    ],
    swiftLanguageModes: [.v6]
)
