// swift-tools-version: 6.1
import PackageDescription

// Module layout and dependency direction: ../shared/design.md ("Modules").
// C interop targets hold module maps and shim headers only; everything above them speaks
// Swift value types.
let package = Package(
    name: "LipSyncServer",
    products: [
        .executable(name: "lipsync", targets: ["lipsync"]),
        .executable(name: "inference-bench", targets: ["InferenceBenchmark"]),
        .executable(name: "media-bench", targets: ["MediaBenchmark"]),
        .executable(name: "speech-bench", targets: ["SpeechBenchmark"]),
        .executable(name: "sync-bench", targets: ["LipSyncBenchmark"]),
        .library(name: "LipSyncMedia", targets: ["Media"]),
        .library(name: "LipSyncStorage", targets: ["Storage"]),
        .library(name: "LipSyncHTTPServer", targets: ["Server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-crypto", "4.1.0"..<"5.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.25.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
    ],
    targets: [
        // C interop: ONNX Runtime (pkg-config libonnxruntime; `make setup` provides one under .deps/).
        .systemLibrary(name: "CONNXRuntime", pkgConfig: "libonnxruntime"),
        // C interop: FFmpeg's libraries (Debian: libav*-dev, libsw*-dev).
        .systemLibrary(
            name: "CFFmpeg", pkgConfig: "libavformat",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libswresample-dev"])]),
        // C interop: espeak-ng (Debian: libespeak-ng-dev).
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng", providers: [.apt(["libespeak-ng-dev"])]),

        // The protocol every module's errors adopt (code, HTTP status, field, message).
        .target(name: "UserFacingErrors"),
        // Retries with backoff and time limits, for every module that calls a remote service.
        .target(name: "Resilience"),

        // Safe wrappers.
        .target(
            name: "Inference",
            dependencies: [
                "CONNXRuntime", "UserFacingErrors", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // Binaries find the ONNX Runtime that `make setup` placed under .deps/ without a
            // launcher (SwiftPM refuses -rpath from pkg-config): relative to the binary, which
            // lies in .build/<triple>/<configuration>/, so no path of the build machine is kept
            // in it. Harmless when the system's library is used (the container image).
            linkerSettings: [.unsafeFlags(["-Xlinker", "-rpath", "-Xlinker", "$ORIGIN/../../../.deps/onnxruntime/lib"])]),
        .target(name: "Media", dependencies: ["CFFmpeg", "UserFacingErrors", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "Speech",
            dependencies: [
                "CEspeakNG", "Media", "Inference", "Resilience", "UserFacingErrors", .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]),

        // Domain stages.
        .target(name: "FaceTracking", dependencies: ["Inference", "Media", "UserFacingErrors"]),
        .target(name: "VoiceConversion", dependencies: ["Inference", "Media", "UserFacingErrors"]),
        .target(
            name: "Storage",
            dependencies: [
                "Resilience", "UserFacingErrors",
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "JWTKit", package: "jwt-kit"),
            ]),
        .target(
            name: "LipSync",
            dependencies: ["FaceTracking", "Inference", "Media", "UserFacingErrors", .product(name: "Logging", package: "swift-log")]),

        // The durable job queue: one store protocol, SQLite (GRDB, embedded) and PostgreSQL
        // (postgres-nio, shared by many processes) behind it.
        .target(
            name: "JobQueue",
            dependencies: [
                "UserFacingErrors", "Resilience", .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "NIOCore", package: "swift-nio"),
            ]),

        // Orchestration.
        .target(
            name: "Pipeline",
            dependencies: [
                "Speech", "VoiceConversion", "LipSync", "FaceTracking", "Media", "Storage", "Inference", "UserFacingErrors",
                .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto"),
            ]),

        // Delivery: the HTTP server (Hummingbird 2).
        .target(
            name: "Server",
            dependencies: [
                "Pipeline", "LipSync", "FaceTracking", "VoiceConversion", "Speech", "Media", "Storage", "Resilience",
                "UserFacingErrors", "JobQueue", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "MultipartKit", package: "multipart-kit"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            resources: [.copy("Resources/openapi.yaml"), .copy("Resources/playground")]),

        // The composition root: configuration, logging set-up, the wiring of every part (one
        // `ServerAssembly` for `serve` and the tests), the doctor report, the bench clip.
        .target(
            name: "Composition",
            dependencies: [
                "Inference", "Media", "Speech", "FaceTracking", "LipSync", "VoiceConversion", "Pipeline", "Storage", "Server",
                "JobQueue",
                .product(name: "Logging", package: "swift-log"), .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]),

        // Delivery.
        .executableTarget(
            name: "lipsync",
            dependencies: [
                "Composition", "Inference", "Media", "Speech", "FaceTracking", "LipSync", "VoiceConversion", "Pipeline", "Server",
                "Storage",
                "UserFacingErrors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]),
        .executableTarget(
            name: "InferenceBenchmark",
            dependencies: ["Inference", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .executableTarget(
            name: "MediaBenchmark",
            dependencies: [
                "Composition",
                "Media", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        .executableTarget(
            name: "SpeechBenchmark",
            dependencies: [
                "Composition",
                "Speech", "Inference", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "Logging", package: "swift-log"),
            ]),

        .executableTarget(
            name: "LipSyncBenchmark",
            dependencies: [
                "LipSync", "Composition", "FaceTracking", "Inference", "Media", "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
            ]),

        .testTarget(
            name: "FaceTrackingTests",
            dependencies: ["TestFixtures", "FaceTracking", "Media", "Inference", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "VoiceConversionTests",
            dependencies: ["TestFixtures", "VoiceConversion", "Media", "Inference", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "TestFixtures",
                "Pipeline", "LipSync", "FaceTracking", "VoiceConversion", "Speech", "Media", "Inference",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                "TestFixtures",
                "Server", "Pipeline", "LipSync", "FaceTracking", "VoiceConversion", "Speech", "Media", "Inference", "Storage",
                "StorageTestSupport", "JobQueue", .product(name: "Crypto", package: "swift-crypto"),
                "Composition", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "LipSyncTests",
            dependencies: [
                "TestFixtures", "LipSync", "FaceTracking", "Media", "Inference", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "InferenceTests",
            dependencies: [
                "TestFixtures", "Inference", "Composition", "InferenceBenchmark", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "CFFmpeg", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "SpeechTests",
            dependencies: [
                "TestFixtures",
                "Speech", "Media", "Inference", "Resilience", .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]),
        // A real Cloud Storage emulator for the Storage and Server tests.
        .target(
            name: "TestFixtures", dependencies: ["Inference", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestFixtures"),
        .target(
            name: "StorageTestSupport",
            dependencies: ["Storage", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Tests/StorageTestSupport"),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "StorageTestSupport", "Resilience", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"), .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]),
        .testTarget(
            name: "JobQueueTests",
            dependencies: ["JobQueue", "TestFixtures", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "LipSyncCLITests",
            dependencies: [
                "TestFixtures", "lipsync", "Media", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]),
        .testTarget(
            name: "CompositionTests",
            dependencies: [
                "TestFixtures",
                "Composition", "Inference", "Media", "Storage", "FaceTracking", "LipSync", "VoiceConversion",
                .product(name: "Logging", package: "swift-log"),
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// Compiler-enforced boundaries for every Swift target: existentials spelled `any`, and
// imports internal unless marked `public` (so C modules and dependencies never leak through a
// public API). MemberImportVisibility is left off: with it, the members of Glibc's structs
// (`stat`, `sockaddr_in`) are attributed to whichever clang module the compiler saw first
// (CoreFoundation, CDispatch), which differed between debug and release builds of the same
// code and failed one or the other.
for target in package.targets where target.type != .system {
    target.swiftSettings =
        (target.swiftSettings ?? []) + [
            .enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("InternalImportsByDefault"),
        ]
}
