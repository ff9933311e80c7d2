/// Hardware back ends a session can run on, by ONNX Runtime's provider name.
public enum ExecutionProvider: String, Sendable, CaseIterable, CustomStringConvertible {
    case cuda = "CUDAExecutionProvider"
    case cpu = "CPUExecutionProvider"

    /// Short name used in configuration and logs ("cuda", "cpu").
    public var description: String {
        switch self {
        case .cuda: "cuda"
        case .cpu: "cpu"
        }
    }

    /// Parses "cuda"/"cpu" or ORT's full provider name.
    public init?(name: String) {
        let lowered = name.lowercased()
        guard let match = Self.allCases.first(where: { $0.description == lowered || $0.rawValue.lowercased() == lowered })
        else { return nil }
        self = match
    }
}

/// A provider that was asked for but could not be used, and why (ORT's words).
public struct ProviderFallback: Sendable, Equatable {
    public let provider: ExecutionProvider
    public let reason: String
}
