import Foundation

/// The OpenAPI 3.1 document of the HTTP API (Sources/Server/Resources/openapi.yaml, shipped
/// as a resource next to the binary and served at GET /openapi.yaml).
enum OpenAPIDocument {
    static let yaml: String? = Bundle.module.url(forResource: "openapi", withExtension: "yaml")
        .flatMap { try? String(contentsOf: $0, encoding: .utf8) }
}
