import Foundation
public import Foundation
public import UserFacingErrors

/// Everything that can go wrong loading or running a model, with what the caller needs to
/// fix it. ONNX Runtime's own failures keep ORT's message verbatim.
public enum InferenceError: Error, Equatable, Sendable {
    /// ONNX Runtime could not be initialised (wrong library, API version not served).
    case runtimeUnavailable(String)
    /// The model file does not exist or cannot be read.
    case modelNotFound(path: String)
    /// ONNX Runtime rejected the model file (truncated, not ONNX, unsupported opset…).
    case modelLoadFailed(path: String, message: String)
    /// A tensor's shape has a negative dimension or does not match its element count.
    case invalidShape(shape: [Int], elementCount: Int)
    /// An input name the model does not have.
    case unknownInput(name: String, expected: [String])
    /// A model input that was not supplied.
    case missingInput(name: String)
    /// An output name the model does not have.
    case unknownOutput(name: String, available: [String])
    /// Element type of a supplied input differs from the model's.
    case elementTypeMismatch(input: String, expected: TensorElementType, got: TensorElementType)
    /// Rank of a supplied input differs from the model's.
    case rankMismatch(input: String, expected: Int, got: Int)
    /// A fixed dimension of the model's input differs from the supplied one.
    case dimensionMismatch(input: String, axis: Int, expected: Int, got: Int)
    /// The model uses an element type this binding cannot hand to or read from Swift.
    case unsupportedElementType(name: String, type: TensorElementType)
    /// An output that is not a tensor (sequence, map…).
    case unsupportedOutputKind(name: String)
    /// A tensor was read back as the wrong Swift element type.
    case wrongElementType(expected: TensorElementType, actual: TensorElementType)
    /// ONNX Runtime failed while running or configuring; `code` is ORT's OrtErrorCode.
    case runtime(code: Int, message: String)
}

extension InferenceError: CustomStringConvertible, LocalizedError {
    public var description: String {
        switch self {
        case .runtimeUnavailable(let message):
            return "ONNX Runtime is unavailable: \(message)"
        case .modelNotFound(let path):
            return "model file not found or not readable: \(path)"
        case .modelLoadFailed(let path, let message):
            return "cannot load model \(path): \(message)"
        case .invalidShape(let shape, let count):
            if let negative = shape.first(where: { $0 < 0 }) {
                return "invalid tensor shape \(shape): dimension \(negative) is negative"
            }
            var product = 1
            for dimension in shape {
                let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
                if overflow { return "invalid tensor shape \(shape): its element count overflows" }
                product = next
            }
            return "invalid tensor shape \(shape): it holds \(product) elements but \(count) were given"
        case .unknownInput(let name, let expected):
            return "the model has no input named '\(name)' (inputs: \(expected.joined(separator: ", ")))"
        case .missingInput(let name):
            return "input '\(name)' is required by the model but was not supplied"
        case .unknownOutput(let name, let available):
            return "the model has no output named '\(name)' (outputs: \(available.joined(separator: ", ")))"
        case .elementTypeMismatch(let input, let expected, let got):
            return "input '\(input)' must be \(expected), got \(got)"
        case .rankMismatch(let input, let expected, let got):
            return "input '\(input)' must have rank \(expected), got rank \(got)"
        case .dimensionMismatch(let input, let axis, let expected, let got):
            return "input '\(input)' must have size \(expected) on axis \(axis), got \(got)"
        case .unsupportedElementType(let name, let type):
            return "'\(name)' has element type \(type), which this server does not exchange with models"
        case .unsupportedOutputKind(let name):
            return "output '\(name)' is not a tensor"
        case .wrongElementType(let expected, let actual):
            return "tensor holds \(actual) elements, not \(expected)"
        case .runtime(let code, let message):
            return "ONNX Runtime error \(code): \(message)"
        }
    }

    public var errorDescription: String? { description }
}

extension InferenceError: UserFacingError {
    /// A model or the runtime failed: the server's fault.
    public var code: String { "internal_error" }
    public var httpStatus: Int { 500 }
}

extension ModelManifestError: UserFacingError {
    /// The models folder cannot be used: the server cannot serve until it is fixed.
    public var code: String { "models_unavailable" }
    public var httpStatus: Int { 503 }
    public var message: String { "the models cannot be loaded: \(description)" }
}
