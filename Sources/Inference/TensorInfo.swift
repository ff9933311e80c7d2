/// One named input or output of a model: element type and shape, where a dynamic axis is
/// `nil` in `shape` and carries its symbolic name (if the model gives one) in `dimensionNames`.
public struct TensorInfo: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let elementType: TensorElementType
    public let shape: [Int?]
    public let dimensionNames: [String?]

    public var rank: Int { shape.count }

    public var description: String {
        let dims = zip(shape, dimensionNames).map { size, name in
            size.map(String.init) ?? name ?? "?"
        }
        return "\(name): \(elementType)[\(dims.joined(separator: ","))]"
    }

    /// Checks a supplied tensor against this signature.
    func validate(_ value: TensorValue) throws {
        guard value.elementType == elementType else {
            throw InferenceError.elementTypeMismatch(input: name, expected: elementType, got: value.elementType)
        }
        let given = value.shape
        guard given.count == shape.count else {
            throw InferenceError.rankMismatch(input: name, expected: shape.count, got: given.count)
        }
        for (axis, (expected, got)) in zip(shape, given).enumerated() {
            if let expected, expected != got {
                throw InferenceError.dimensionMismatch(input: name, axis: axis, expected: expected, got: got)
            }
        }
    }
}
