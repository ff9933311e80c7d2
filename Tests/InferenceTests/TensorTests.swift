import Inference
import Testing

@Suite struct TensorTests {
    @Test func shapeMustMatchCount() throws {
        let tensor = try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(tensor.elementCount == 6)
        #expect(throws: InferenceError.invalidShape(shape: [2, 3], elementCount: 5)) {
            try Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5])
        }
    }

    @Test func negativeDimensionIsRejected() {
        let error = #expect(throws: InferenceError.self) { try Tensor<Float>(shape: [-1, 4], scalars: []) }
        #expect(error?.description.contains("dimension -1 is negative") == true)
        #expect(throws: InferenceError.self) { try Tensor<UInt8>(shape: [2, -3], repeating: 0) }
    }

    @Test func overflowingShapeIsRejected() {
        #expect(throws: InferenceError.self) { try Tensor<UInt8>(shape: [Int.max, 3], repeating: 0) }
    }

    @Test func emptyAndScalarShapes() throws {
        #expect(try Tensor<Float>(shape: [0, 4], scalars: []).elementCount == 0)
        #expect(try Tensor<Int64>(shape: [], scalars: [7]).scalars == [7])
    }

    @Test func valueUnwrapsOnlyAsItsOwnType() throws {
        let value = TensorValue(try Tensor<Int64>(shape: [2], scalars: [1, 2]))
        #expect(value.elementType == .int64)
        #expect(try value.tensor(of: Int64.self).scalars == [1, 2])
        #expect(throws: InferenceError.wrongElementType(expected: .float32, actual: .int64)) {
            try value.tensor(of: Float.self)
        }
    }
}
