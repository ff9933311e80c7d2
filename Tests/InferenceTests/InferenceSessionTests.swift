import Foundation
import Inference
import TestFixtures
import Testing

@Suite struct InferenceSessionTests {
    // MARK: Signatures and values

    @Test func addModelSignatureAndResult() throws {
        let session = try Fixtures.session("add.onnx")
        #expect(session.inputs.map(\.name) == ["a", "b"])
        #expect(session.outputs.map(\.name) == ["sum"])
        let a = session.inputs[0]
        #expect(a.elementType == .float32)
        #expect(a.shape == [nil, 4])
        #expect(a.dimensionNames == ["batch", nil])
        #expect(a.description == "a: float32[batch,4]")
        #expect(session.activeProvider == .cpu)

        let out = try session.run([
            "a": .float32(try Tensor(shape: [2, 4], scalars: [1, 2, 3, 4, 5, 6, 7, 8])),
            "b": .float32(try Tensor(shape: [2, 4], scalars: [10, 20, 30, 40, 50, 60, 70, 80])),
        ])
        let sum = try #require(out["sum"]).tensor(of: Float.self)
        #expect(sum.shape == [2, 4])
        #expect(sum.scalars == [11, 22, 33, 44, 55, 66, 77, 88])
    }

    @Test func dynamicBatchOfZero() throws {
        let session = try Fixtures.session("add.onnx")
        let empty = TensorValue(try Tensor<Float>(shape: [0, 4], scalars: []))
        let out = try session.run(["a": empty, "b": empty])
        #expect(try #require(out["sum"]).shape == [0, 4])
    }

    /// The convolution weights follow a formula (testmodels.conv_weights); recompute the
    /// output by hand and compare — with ORT's threads sleeping between runs (the default)
    /// and spinning.
    @Test(arguments: [false, true]) func convolutionMatchesHandComputedReference(spinning: Bool) throws {
        var options = SessionOptions(intraOpThreads: 2)
        options.spinning = spinning
        let session = try Fixtures.session("conv.onnx", options: options)
        let (height, width) = (5, 7)
        let input = (0..<(3 * height * width)).map { Float(($0 * 37) % 11) / 5 - 1 }
        let out = try session.run(["x": .float32(try Tensor(shape: [1, 3, height, width], scalars: input))])
        let y = try #require(out["y"]).tensor(of: Float.self)
        #expect(y.shape == [1, 4, height, width])

        func weight(_ o: Int, _ c: Int, _ i: Int, _ j: Int) -> Float {
            Float(((o * 27 + c * 9 + i * 3 + j) % 7) - 3) / 4
        }
        var maxError: Float = 0
        for o in 0..<4 {
            for row in 0..<height {
                for col in 0..<width {
                    var sum = Float(o) / 2
                    for c in 0..<3 {
                        for i in 0..<3 {
                            for j in 0..<3 {
                                let (r, q) = (row + i - 1, col + j - 1)
                                guard (0..<height).contains(r), (0..<width).contains(q) else { continue }
                                sum += weight(o, c, i, j) * input[(c * height + r) * width + q]
                            }
                        }
                    }
                    maxError = max(maxError, abs(sum - y.scalars[(o * height + row) * width + col]))
                }
            }
        }
        #expect(maxError < 1e-5)
    }

    @Test func float16InputAndOutput() throws {
        let session = try Fixtures.session("half.onnx")
        #expect(session.inputs[0].elementType == .float16)
        let values: [Float16] = [0.5, -1.25, 3, 1024, 0.1, -0.0, 7.75, 65504 / 4]
        let out = try session.run(["x": .float16(try Tensor(shape: [2, 4], scalars: values))])
        let doubled = try #require(out["doubled"]).tensor(of: Float16.self)
        #expect(doubled.scalars == values.map { $0 * 2 })
        let widened = try #require(out["widened"]).tensor(of: Float.self)
        #expect(widened.scalars == values.map { Float($0) + 1 })
    }

    @Test func int64AndUInt8() throws {
        let session = try Fixtures.session("types.onnx")
        let pixels: [UInt8] = (0..<(2 * 3 * 3)).map { UInt8(($0 * 29) % 256) }
        let out = try session.run([
            "ids": .int64(try Tensor(shape: [3], scalars: [Int64.min + 1, 41, Int64.max - 1])),
            "pixels": .uint8(try Tensor(shape: [2, 3, 3], scalars: pixels)),
        ])
        #expect(try #require(out["next_ids"]).tensor(of: Int64.self).scalars == [Int64.min + 2, 42, Int64.max])
        #expect(try #require(out["pixels_copy"]).tensor(of: UInt8.self).scalars == pixels)
        #expect(try #require(out["scaled"]).tensor(of: Float.self).scalars == pixels.map { Float($0) / 255 })
    }

    @Test func selectedOutputsOnly() throws {
        let session = try Fixtures.session("half.onnx")
        let out = try session.run(["x": .float16(try Tensor(shape: [1, 4], repeating: 1))], outputs: ["widened"])
        #expect(Array(out.keys) == ["widened"])
    }

    @Test func deterministicModeRepeatsBitForBit() throws {
        let session = try Fixtures.session("conv.onnx", options: SessionOptions(deterministic: true))
        let input = TensorValue(try Tensor<Float>(shape: [2, 3, 16, 16], scalars: (0..<1536).map { sin(Float($0)) }))
        let first = try session.run(["x": input])
        for _ in 0..<5 { #expect(try session.run(["x": input]) == first) }
    }

    // MARK: Broken models

    @Test func missingFile() {
        #expect(throws: InferenceError.modelNotFound(path: "/nonexistent/model.onnx")) {
            try InferenceSession(environment: Fixtures.environment, modelPath: "/nonexistent/model.onnx")
        }
    }

    @Test func directoryIsNotAModel() throws {
        let directory = FileManager.default.temporaryDirectory.path
        #expect(throws: InferenceError.modelNotFound(path: directory)) {
            try InferenceSession(environment: Fixtures.environment, modelPath: directory)
        }
    }

    @Test(arguments: ["truncated", "garbage", "empty"])
    func unreadableModelGivesLoadError(kind: String) throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: try Fixtures.path("conv.onnx")))
        let bytes: Data =
            switch kind {
            case "truncated": original.prefix(original.count / 2)
            case "garbage": Data((0..<512).map { UInt8(($0 * 97 + 13) % 251) })
            default: Data()
            }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(kind)-\(UUID()).onnx").path
        try bytes.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let error = #expect(throws: InferenceError.self) {
            try InferenceSession(environment: Fixtures.environment, modelPath: path)
        }
        guard case .modelLoadFailed(let failedPath, let message)? = error else {
            Issue.record("expected modelLoadFailed, got \(String(describing: error))")
            return
        }
        #expect(failedPath == path)
        #expect(!message.isEmpty)
        #expect(error?.description.hasPrefix("cannot load model \(path): ") == true)
    }

    // MARK: Bad inputs (validated before ONNX Runtime sees them)

    @Test func wrongInputName() throws {
        let session = try Fixtures.session("add.onnx")
        let value = TensorValue(try Tensor<Float>(shape: [1, 4], repeating: 0))
        #expect(throws: InferenceError.unknownInput(name: "c", expected: ["a", "b"])) {
            try session.run(["a": value, "b": value, "c": value])
        }
    }

    @Test func missingInput() throws {
        let session = try Fixtures.session("add.onnx")
        let value = TensorValue(try Tensor<Float>(shape: [1, 4], repeating: 0))
        #expect(throws: InferenceError.missingInput(name: "b")) { try session.run(["a": value]) }
    }

    @Test func wrongElementType() throws {
        let session = try Fixtures.session("add.onnx")
        let float = TensorValue(try Tensor<Float>(shape: [1, 4], repeating: 0))
        let half = TensorValue(try Tensor<Float16>(shape: [1, 4], repeating: 0))
        let error = #expect(throws: InferenceError.elementTypeMismatch(input: "b", expected: .float32, got: .float16)) {
            try session.run(["a": float, "b": half])
        }
        #expect(error?.description == "input 'b' must be float32, got float16")
    }

    @Test func wrongRank() throws {
        let session = try Fixtures.session("add.onnx")
        let good = TensorValue(try Tensor<Float>(shape: [1, 4], repeating: 0))
        let flat = TensorValue(try Tensor<Float>(shape: [4], repeating: 0))
        #expect(throws: InferenceError.rankMismatch(input: "a", expected: 2, got: 1)) {
            try session.run(["a": flat, "b": good])
        }
    }

    @Test func wrongFixedDimension() throws {
        let session = try Fixtures.session("add.onnx")
        let good = TensorValue(try Tensor<Float>(shape: [2, 4], repeating: 0))
        let wide = TensorValue(try Tensor<Float>(shape: [2, 5], repeating: 0))
        #expect(throws: InferenceError.dimensionMismatch(input: "b", axis: 1, expected: 4, got: 5)) {
            try session.run(["a": good, "b": wide])
        }
    }

    @Test func unknownOutputName() throws {
        let session = try Fixtures.session("add.onnx")
        let value = TensorValue(try Tensor<Float>(shape: [1, 4], repeating: 0))
        #expect(throws: InferenceError.unknownOutput(name: "product", available: ["sum"])) {
            try session.run(["a": value, "b": value], outputs: ["product"])
        }
    }

    /// Dynamic axes that disagree between inputs pass our checks; ORT's own error must
    /// arrive as a typed Swift error with ORT's message.
    @Test func runtimeErrorsBecomeTypedErrors() throws {
        let session = try Fixtures.session("add.onnx")
        let two = TensorValue(try Tensor<Float>(shape: [2, 4], repeating: 0))
        let three = TensorValue(try Tensor<Float>(shape: [3, 4], repeating: 0))
        let error = #expect(throws: InferenceError.self) { try session.run(["a": two, "b": three]) }
        guard case .runtime(let code, let message)? = error else {
            Issue.record("expected a runtime error, got \(String(describing: error))")
            return
        }
        #expect(code != 0)
        #expect(message.contains("Add"))
    }

    // MARK: Concurrency and resources

    @Test func concurrentRunsOnOneSession() async throws {
        let session = try Fixtures.session("add.onnx")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for iteration in 0..<200 {
                        let base = Float(worker * 1000 + iteration)
                        let a = (0..<12).map { base + Float($0) }
                        let b = (0..<12).map { Float($0) * 0.5 }
                        let out = try session.run([
                            "a": .float32(try Tensor(shape: [3, 4], scalars: a)),
                            "b": .float32(try Tensor(shape: [3, 4], scalars: b)),
                        ])
                        let sum = try #require(out["sum"]).tensor(of: Float.self).scalars
                        #expect(sum == zip(a, b).map(+))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// 10 000 inferences: every OrtValue and OrtStatus must be released. Measured by
    /// `inference-bench --leak-check` in a process of its own, since the other suites run
    /// in parallel in this one and move its resident-set size.
    @Test func tenThousandRunsKeepResidentMemoryFlat() throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("inference-bench")
        let (status, text) = try TestFixtures.run(binary.path, ["--leak-check", "--fixtures", Fixtures.directory])
        #expect(status == 0, "\(text)")
        #expect(text.contains("resident memory growth over 10000 runs"))
    }

}
