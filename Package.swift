// swift-tools-version:6.1
import PackageDescription

/// One settings list for every target: Swift 6 language mode (set by the tools version),
/// explicit `any`, and member imports that must be spelled out.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "habar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "habar", targets: ["habar"]),
        .executable(name: "habar-bench", targets: ["habar-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        // The webhook channel's HTTP client (pooled connections, TLS, timeouts).
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Already under Hummingbird; named so HabarHTTP can import the header types it uses.
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        // TLS for the SMTP client (STARTTLS and implicit TLS).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // The console: bcrypt for passwords and TOTP for the second factor.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // The console's server-rendered pages.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // The PostgreSQL store: PostgresClient (a pool run as a service), binary protocol, TLS.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // MARK: Domain, messages, storage
        .target(
            name: "HabarMessages",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HabarCore",
            dependencies: [
                "HabarMessages",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HabarStoreSQLite",
            dependencies: [
                "HabarCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HabarStorePostgres",
            dependencies: [
                "HabarCore", "HabarMessages",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Channel adapters (one target each)
        .target(
            name: "ChannelSMSStub",
            dependencies: ["HabarCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ChannelHTTP",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ChannelWebhook",
            dependencies: [
                "HabarCore", "HabarMessages", "ChannelHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "ChannelSMTP",
            dependencies: [
                "HabarCore", "HabarMessages",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ChannelKannel",
            dependencies: [
                "HabarCore", "HabarMessages", "ChannelHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: HTTP, application wiring, CLI
        // The HTTP API knows the core and its protocols, no store and no adapter.
        .target(
            name: "HabarHTTP",
            dependencies: [
                "HabarCore",
                "HabarMessages",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/openapi.json")],
            swiftSettings: swiftSettings
        ),
        // The operator console under /console/: pages over the gateway's core services.
        .target(
            name: "HabarConsole",
            dependencies: [
                "HabarHTTP", "HabarCore", "HabarMessages",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Templates")],
            swiftSettings: swiftSettings
        ),
        // The composition root: which stores and adapters this build has, chosen by the
        // configuration. A library so that tests and the benchmarks wire what the binary wires.
        .target(
            name: "HabarApp",
            dependencies: [
                "HabarHTTP", "HabarConsole", "HabarCore", "HabarMessages", "HabarStoreSQLite", "HabarStorePostgres",
                "ChannelSMSStub", "ChannelWebhook", "ChannelKannel", "ChannelSMTP",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "HabarTesting",
            dependencies: ["HabarCore", "HabarStoreSQLite"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "habar",
            dependencies: [
                "HabarApp", "HabarHTTP", "HabarConsole", "HabarCore", "HabarMessages",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "habar-bench",
            dependencies: [
                "HabarApp", "HabarHTTP", "HabarConsole", "HabarCore", "HabarMessages", "HabarStoreSQLite", "HabarStorePostgres", "ChannelSMSStub", "HabarTesting",
                "ChannelHTTP", "ChannelWebhook", "ChannelKannel", "ChannelSMTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests (one target per source target)
        // Fixtures are read from the source tree by path, not bundled.
        .testTarget(name: "HabarMessagesTests", dependencies: ["HabarMessages"], exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(name: "HabarCoreTests", dependencies: ["HabarCore", "HabarTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "HabarStoreSQLiteTests",
            dependencies: ["HabarStoreSQLite", "HabarTesting", "HabarCore", "HabarMessages", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "HabarStorePostgresTests",
            dependencies: [
                "HabarStorePostgres", "HabarTesting", "HabarCore", "HabarMessages", "ChannelSMSStub",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(name: "ChannelSMSStubTests", dependencies: ["ChannelSMSStub", "HabarTesting"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ChannelWebhookTests",
            dependencies: [
                "ChannelWebhook", "HabarHTTP", "HabarApp", "HabarTesting", "HabarCore", "HabarMessages", .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ChannelKannelTests",
            dependencies: [
                "ChannelKannel", "HabarHTTP", "HabarApp", "HabarTesting", "HabarCore", "HabarMessages", "HabarStoreSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ChannelSMTPTests",
            dependencies: [
                "ChannelSMTP", "HabarTesting", "HabarCore", "HabarMessages",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"], swiftSettings: swiftSettings),
        .testTarget(
            name: "HabarHTTPTests",
            dependencies: [
                "HabarHTTP", "HabarApp", "HabarTesting", "ChannelKannel", "HabarStoreSQLite",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HabarConsoleTests",
            dependencies: [
                "HabarConsole", "HabarHTTP", "HabarApp", "HabarTesting", "HabarCore", "HabarMessages", "HabarStoreSQLite",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HabarCLITests",
            dependencies: ["HabarTesting", "HabarCore", "HabarMessages", "HabarStoreSQLite"],
            exclude: ["Browser"],
            swiftSettings: swiftSettings
        ),
    ]
)
