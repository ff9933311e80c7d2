// swift-tools-version: 6.1
import PackageDescription

// Builds `swift-openapi-generator`, which writes Sources/Server/Generated from the server's
// OpenAPI document (`make openapi-generate`; `make openapi-check` checks the committed files
// are current). A package of its own so the main package's builds never build the generator.
let package = Package(
    name: "OpenAPIGeneratorTool",
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3")
    ],
    targets: [
        // SwiftPM needs a target to resolve the package; the product used is the generator's.
        .target(name: "Placeholder")
    ]
)
