// swift-tools-version:6.0
// Skiff: a highly available message-queue cluster. See docs/architecture.md for the module map.
import PackageDescription

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]

let package = Package(
    name: "Skiff",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "skiff", targets: ["skiff"]),
        .executable(name: "skiff-sim", targets: ["skiff-sim"]),
        .executable(name: "skiff-chaos", targets: ["skiff-chaos"]),
        .library(name: "SkiffClient", targets: ["SkiffClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
    ],
    targets: [
        // System libraries, installed as Debian -dev packages by the Makefile.
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),

        // Pure cores: no I/O, no clock, no threads (enforced by having no I/O dependencies).
        .target(name: "SkiffRaft"),
        .target(
            name: "SkiffBroker",
            dependencies: [.product(name: "Collections", package: "swift-collections")]
        ),

        // Storage.
        .target(name: "CCRC"),
        .target(name: "SkiffLog", dependencies: ["SkiffRaft", "CLZ4", "CCRC"]),
        .target(name: "SkiffStore", dependencies: ["CSQLite", "CLZ4", "SkiffLog", "SkiffRaft"]),

        // Network protocol, node, client.
        .target(name: "SkiffWire", dependencies: ["SkiffRaft", .product(name: "NIOCore", package: "swift-nio")]),
        .target(
            name: "SkiffServer",
            dependencies: [
                "SkiffRaft", "SkiffLog", "SkiffStore", "SkiffBroker", "SkiffWire",
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Atomics", package: "swift-atomics"),
            ] + nio
        ),
        .target(
            name: "SkiffClient",
            dependencies: [
                "SkiffWire", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ] + nio
        ),

        // Deterministic simulator.
        .target(name: "SkiffSim", dependencies: ["SkiffRaft", "SkiffBroker", "SkiffLog"]),

        // Executables.
        .executableTarget(
            name: "skiff",
            dependencies: [
                "SkiffServer", "SkiffClient", "SkiffLog", "SkiffStore", "SkiffBroker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "skiff-sim",
            dependencies: ["SkiffSim", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "skiff-chaos",
            dependencies: [
                "SkiffClient", "ChaosCheck", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ] + nio,
            path: "chaos/Sources/skiff-chaos"
        ),
        // Chaos history checker, report and nemesis schedule: reads only histories, no I/O of its own.
        .target(name: "ChaosCheck", dependencies: ["SkiffRaft"], path: "chaos/Sources/ChaosCheck"),

        // Tests.
        .testTarget(name: "SkiffRaftTests", dependencies: ["SkiffRaft"], resources: [.copy("testdata")]),
        .testTarget(name: "SkiffLogTests", dependencies: ["SkiffLog", "SkiffRaft"]),
        .testTarget(name: "SkiffStoreTests", dependencies: ["SkiffStore", "SkiffLog"]),
        .testTarget(name: "SkiffBrokerTests", dependencies: ["SkiffBroker", "SkiffRaft"]),
        .testTarget(
            name: "SkiffWireTests",
            dependencies: ["SkiffWire", "SkiffRaft", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "SkiffServerTests", dependencies: ["SkiffServer"]),
        .testTarget(
            name: "SkiffCLITests",
            dependencies: ["skiff", "SkiffClient", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(
            name: "SkiffClientTests",
            dependencies: [
                "SkiffClient", "SkiffWire", .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ] + nio
        ),
        .testTarget(name: "SkiffSimTests", dependencies: ["SkiffSim"]),
        .testTarget(name: "SkiffIntegrationTests", dependencies: ["SkiffClient"]),
        .testTarget(name: "ChaosCheckTests", dependencies: ["ChaosCheck"]),
        .testTarget(name: "ChaosHarnessTests", dependencies: ["skiff-chaos", "ChaosCheck", "SkiffClient"] + nio),
    ]
)
