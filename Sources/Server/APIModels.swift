import Foundation
import Pipeline

// The JSON bodies are the types swift-openapi-generator writes from openapi.yaml
// (Sources/Server/Generated, `make openapi-generate`); these names are the server's own.

/// The original system's request (`POST /api/v1/lip-video`), plus optional fields for the
/// stages' options.
typealias LipVideoRequest = Components.Schemas.LipVideoRequest
typealias LipVideoResponse = Components.Schemas.LipVideoResponse
/// GET /api/v1/models: the model registry's report.
typealias ModelsResponse = Components.Schemas.ModelsReport
typealias ErrorBody = Components.Schemas.ErrorBody

extension Components.Schemas.ModelInfo {
    init(_ model: ModelReport.Model) {
        self.init(
            kind: model.kind, file: model.file, precision: model.precision, checkpoint: model.checkpoint, standin: model.standin,
            sha256: model.sha256, sha256Verified: model.sha256Verified)
    }
}

extension Components.Schemas.Timings {
    /// Every step's seconds (rounded to milliseconds), keyed as in JSON, logs and metrics.
    init(_ timings: JobTimings) throws {
        var keyed: [String: Double] = [:]
        for row in timings.keyedRows { keyed[row.key] = (row.seconds * 1000).rounded() / 1000 }
        let data = try JSONEncoder().encode(keyed)
        self = try JSONDecoder().decode(Self.self, from: data)
    }
}
