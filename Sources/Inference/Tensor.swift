internal import CONNXRuntime

/// ONNX tensor element types (raw values are ONNX's `TensorProto.DataType` codes).
public enum TensorElementType: Int, Sendable, CustomStringConvertible {
    case undefined = 0
    case float32 = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case float64 = 11
    case uint32 = 12
    case uint64 = 13
    case complex64 = 14
    case complex128 = 15
    case bfloat16 = 16

    init(ort: ONNXTensorElementDataType) {
        self = TensorElementType(rawValue: Int(ort.rawValue)) ?? .undefined
    }

    var ort: ONNXTensorElementDataType { ONNXTensorElementDataType(UInt32(rawValue)) }

    public var description: String {
        switch self {
        case .float32: "float32"
        case .float16: "float16"
        case .float64: "float64"
        case .bfloat16: "bfloat16"
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .string: "string"
        case .bool: "bool"
        case .complex64: "complex64"
        case .complex128: "complex128"
        case .undefined: "undefined"
        }
    }
}

/// A Swift scalar type that can be exchanged with a model without conversion.
public protocol TensorElement: Sendable, Equatable, BitwiseCopyable {
    static var elementType: TensorElementType { get }
    static func wrap(_ tensor: Tensor<Self>) -> TensorValue
    static func unwrap(_ value: TensorValue) -> Tensor<Self>?
}

extension Float: TensorElement {
    public static var elementType: TensorElementType { .float32 }
    public static func wrap(_ tensor: Tensor<Float>) -> TensorValue { .float32(tensor) }
    public static func unwrap(_ value: TensorValue) -> Tensor<Float>? {
        if case .float32(let t) = value { t } else { nil }
    }
}

extension Float16: TensorElement {
    public static var elementType: TensorElementType { .float16 }
    public static func wrap(_ tensor: Tensor<Float16>) -> TensorValue { .float16(tensor) }
    public static func unwrap(_ value: TensorValue) -> Tensor<Float16>? {
        if case .float16(let t) = value { t } else { nil }
    }
}

extension Int64: TensorElement {
    public static var elementType: TensorElementType { .int64 }
    public static func wrap(_ tensor: Tensor<Int64>) -> TensorValue { .int64(tensor) }
    public static func unwrap(_ value: TensorValue) -> Tensor<Int64>? {
        if case .int64(let t) = value { t } else { nil }
    }
}

extension UInt8: TensorElement {
    public static var elementType: TensorElementType { .uint8 }
    public static func wrap(_ tensor: Tensor<UInt8>) -> TensorValue { .uint8(tensor) }
    public static func unwrap(_ value: TensorValue) -> Tensor<UInt8>? {
        if case .uint8(let t) = value { t } else { nil }
    }
}

/// A dense row-major tensor owned by Swift. Inputs are handed to ONNX Runtime in place
/// (no copy); outputs are copied once out of ORT's buffer.
public struct Tensor<Element: TensorElement>: Sendable, Equatable {
    public let shape: [Int]
    public var scalars: [Element]

    /// Throws `InferenceError.invalidShape` for a negative dimension or a count mismatch.
    public init(shape: [Int], scalars: [Element]) throws {
        try Self.validate(shape: shape, count: scalars.count)
        self.shape = shape
        self.scalars = scalars
    }

    public init(shape: [Int], repeating value: Element) throws {
        try Self.validate(shape: shape, count: nil)
        self.shape = shape
        self.scalars = Array(repeating: value, count: shape.reduce(1, *))
    }

    /// Shape and count already known to agree (outputs read back from ORT).
    init(uncheckedShape shape: [Int], scalars: [Element]) {
        self.shape = shape
        self.scalars = scalars
    }

    public var elementCount: Int { scalars.count }

    private static func validate(shape: [Int], count: Int?) throws {
        var product = 1
        for dimension in shape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            guard dimension >= 0, !overflow else {
                throw InferenceError.invalidShape(shape: shape, elementCount: count ?? 0)
            }
            product = next
        }
        if let count, count != product {
            throw InferenceError.invalidShape(shape: shape, elementCount: count)
        }
    }
}

/// A tensor of one of the element types exchanged with models.
public enum TensorValue: Sendable, Equatable {
    case float32(Tensor<Float>)
    case float16(Tensor<Float16>)
    case int64(Tensor<Int64>)
    case uint8(Tensor<UInt8>)

    public init<E: TensorElement>(_ tensor: Tensor<E>) {
        self = E.wrap(tensor)
    }

    public var elementType: TensorElementType {
        switch self {
        case .float32: .float32
        case .float16: .float16
        case .int64: .int64
        case .uint8: .uint8
        }
    }

    public var shape: [Int] {
        switch self {
        case .float32(let t): t.shape
        case .float16(let t): t.shape
        case .int64(let t): t.shape
        case .uint8(let t): t.shape
        }
    }

    /// The tensor as `E`, or `InferenceError.wrongElementType`.
    public func tensor<E: TensorElement>(of type: E.Type = E.self) throws -> Tensor<E> {
        guard let tensor = E.unwrap(self) else {
            throw InferenceError.wrongElementType(expected: E.elementType, actual: elementType)
        }
        return tensor
    }

    /// Calls `body` with the raw bytes of the scalars, valid only inside `body`.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch self {
        case .float32(let t): try t.scalars.withUnsafeBytes(body)
        case .float16(let t): try t.scalars.withUnsafeBytes(body)
        case .int64(let t): try t.scalars.withUnsafeBytes(body)
        case .uint8(let t): try t.scalars.withUnsafeBytes(body)
        }
    }
}
