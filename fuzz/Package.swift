// swift-tools-version: 6.1
import Foundation
import PackageDescription

// libFuzzer targets for the parsers of outside data (docs/fuzzing.md). A package of its own,
// so the main package's `swift build` / `swift test` never see the fuzzer flags. Build with
//   swift build --package-path fuzz --scratch-path .build-fuzz \
//       --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address --product <target>
// (`make fuzz-build`; `make fuzz-smoke` also runs each target for FUZZ_SECONDS). The -Xswiftc
// flag is needed: SwiftPM hands swiftc one -sanitize= flag per sanitizer and swiftc keeps only
// the last, so without it Swift code gets AddressSanitizer but no coverage counters.

// A path dependency's identity is the name of its folder, whatever the checkout is called.
let mainPackage = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

// Each fuzz target defines `LLVMFuzzerTestOneInput` and no `main` (libFuzzer supplies it).
let fuzzTarget: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "LipSyncFuzz",
    products: [
        .executable(name: "fuzz-media", targets: ["MediaFuzz"]),
        .executable(name: "fuzz-wav", targets: ["WAVFuzz"]),
        .executable(name: "fuzz-storage-uri", targets: ["StorageURIFuzz"]),
        .executable(name: "fuzz-request-body", targets: ["RequestBodyFuzz"]),
        // Writes the media seeds of corpus/ with the Media module's own encoder (built without sanitizers).
        .executable(name: "fuzz-corpus-writer", targets: ["CorpusWriter"]),
    ],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "LipSyncMedia", package: mainPackage), .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "MediaFuzz", dependencies: ["FuzzSupport", .product(name: "LipSyncMedia", package: mainPackage)],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "WAVFuzz", dependencies: ["FuzzSupport", .product(name: "LipSyncMedia", package: mainPackage)],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "StorageURIFuzz", dependencies: [.product(name: "LipSyncStorage", package: mainPackage)],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "RequestBodyFuzz",
            dependencies: [
                "FuzzSupport", .product(name: "LipSyncHTTPServer", package: mainPackage),
                .product(name: "LipSyncStorage", package: mainPackage),
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: fuzzTarget),
        .executableTarget(
            name: "CorpusWriter",
            dependencies: [.product(name: "LipSyncMedia", package: mainPackage), .product(name: "Logging", package: "swift-log")]),
    ],
    swiftLanguageModes: [.v6]
)
