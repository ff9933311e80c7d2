internal import CONNXRuntime
import Foundation
import Logging

/// A loaded model, ready to run. `run` may be called from many tasks at once: ONNX
/// Runtime's `Run` is thread-safe on one session and this type holds no mutable state.
///
/// `run` blocks the calling thread for the length of the inference; call it from a
/// thread that may block (not a NIO event loop).
public final class InferenceSession: @unchecked Sendable {
    // @unchecked: every stored property is set once in init and read-only afterwards;
    // the ORT handles are safe for concurrent use (OrtSession::Run is thread-safe).
    private let runtime: ORTRuntime
    private let environment: InferenceEnvironment
    private let session: OpaquePointer
    private let memoryInfo: OpaquePointer
    private let inputNamePointers: [UnsafeMutablePointer<CChar>]
    private let outputNamePointers: [UnsafeMutablePointer<CChar>]

    /// The model file this session was loaded from.
    public let modelPath: String
    /// The model's inputs in declaration order.
    public let inputs: [TensorInfo]
    /// The model's outputs in declaration order.
    public let outputs: [TensorInfo]
    /// The provider the session runs on (the first in the preference chain that worked).
    public let activeProvider: ExecutionProvider
    /// Providers that were asked for, tried and not usable, with ORT's reason.
    public let fallbacks: [ProviderFallback]
    /// Whether runs take their large blocks from the heap (`RunHeap`): sessions without ORT's
    /// CPU arena, whose every activation is otherwise a fresh allocation. With the arena the
    /// activations are kept between runs already; leaving those runs out also keeps the
    /// threshold low through an overlapped render, where the generator runs nearly all the
    /// time beside the frames' decoding and encoding.
    private let heapDuringRuns: Bool

    /// Loads `modelPath`, trying `options.providers` in order and falling back to CPU.
    public init(environment: InferenceEnvironment, modelPath: String, options: SessionOptions = SessionOptions()) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelPath, isDirectory: &isDirectory), !isDirectory.boolValue,
            FileManager.default.isReadableFile(atPath: modelPath)
        else { throw InferenceError.modelNotFound(path: modelPath) }

        let runtime = environment.runtime
        var fallbacks: [ProviderFallback] = []
        var created: (session: OpaquePointer, provider: ExecutionProvider)?
        for provider in options.providerChain {
            do {
                let session = try Self.createSession(
                    runtime: runtime, environment: environment, path: modelPath,
                    options: options, provider: provider)
                created = (session, provider)
                break
            } catch let error as InferenceError {
                guard provider != .cpu else {
                    if case .runtime(_, let message) = error {
                        throw InferenceError.modelLoadFailed(path: modelPath, message: message)
                    }
                    throw error
                }
                fallbacks.append(ProviderFallback(provider: provider, reason: Self.reason(error)))
            }
        }
        guard let created else {
            throw InferenceError.modelLoadFailed(path: modelPath, message: "no execution provider could load the model")
        }
        for fallback in fallbacks {
            environment.reportFallback(fallback, to: created.provider, model: modelPath)
        }

        var memoryInfo: OpaquePointer?
        do {
            try runtime.check(runtime.api.CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memoryInfo))
        } catch {
            runtime.api.ReleaseSession(created.session)
            throw error
        }

        self.runtime = runtime
        self.environment = environment
        self.session = created.session
        guard let memoryInfo else {
            runtime.api.ReleaseSession(created.session)
            throw InferenceError.runtime(code: -1, message: "CreateCpuMemoryInfo returned nothing")
        }
        self.memoryInfo = memoryInfo
        self.modelPath = modelPath
        self.activeProvider = created.provider
        self.fallbacks = fallbacks
        self.heapDuringRuns = !options.memoryArena
        do {
            self.inputs = try Self.signature(runtime: runtime, session: created.session, kind: .input)
            self.outputs = try Self.signature(runtime: runtime, session: created.session, kind: .output)
        } catch {
            runtime.api.ReleaseMemoryInfo(self.memoryInfo)
            runtime.api.ReleaseSession(created.session)
            throw error
        }
        self.inputNamePointers = inputs.map { strdup($0.name) }
        self.outputNamePointers = outputs.map { strdup($0.name) }
    }

    deinit {
        for pointer in inputNamePointers + outputNamePointers { free(pointer) }
        runtime.api.ReleaseMemoryInfo(memoryInfo)
        runtime.api.ReleaseSession(session)
    }

    /// Runs the model. Under a `RunTermination` (a cancellable job) the run stops soon after
    /// the job is cancelled and throws `CancellationError`.
    /// - Parameters:
    ///   - feeds: every model input by name; checked against the signature before ORT sees them.
    ///   - outputNames: outputs to compute; all by default.
    /// - Returns: the requested outputs by name.
    public func run(_ feeds: [String: TensorValue], outputs outputNames: [String]? = nil) throws -> [String: TensorValue] {
        // Validate names, dtypes, ranks and fixed dimensions so a mistake reads as a Swift
        // error naming the input rather than an ORT message.
        for name in feeds.keys.sorted() where !inputs.contains(where: { $0.name == name }) {
            throw InferenceError.unknownInput(name: name, expected: inputs.map(\.name))
        }
        var ordered: [(index: Int, value: TensorValue)] = []
        for (index, info) in inputs.enumerated() {
            guard let value = feeds[info.name] else { throw InferenceError.missingInput(name: info.name) }
            try info.validate(value)
            ordered.append((index, value))
        }
        let wanted = outputNames ?? outputs.map(\.name)
        let outputIndices = try wanted.map { name in
            guard let index = outputs.firstIndex(where: { $0.name == name }) else {
                throw InferenceError.unknownOutput(name: name, available: outputs.map(\.name))
            }
            return index
        }

        var values: [OpaquePointer?] = []
        values.reserveCapacity(ordered.count)
        defer { for case let value? in values { runtime.api.ReleaseValue(value) } }
        // Without the arena, large blocks come from the heap while the run lasts, and go back after (RunHeap).
        guard heapDuringRuns else { return try runAllocating(ordered: ordered, outputIndices: outputIndices, values: &values) }
        return try RunHeap.shared.during { try runAllocating(ordered: ordered, outputIndices: outputIndices, values: &values) }
    }

    private func runAllocating(
        ordered: [(index: Int, value: TensorValue)], outputIndices: [Int], values: inout [OpaquePointer?]
    ) throws -> [String: TensorValue] {
        try withInputValues(ordered[...], collecting: &values) { inputValues in
            let inputNames: [UnsafePointer<CChar>?] = ordered.map { UnsafePointer(inputNamePointers[$0.index]) }
            let names: [UnsafePointer<CChar>?] = outputIndices.map { UnsafePointer(outputNamePointers[$0]) }
            var results = [OpaquePointer?](repeating: nil, count: names.count)
            defer { for case let value? in results { runtime.api.ReleaseValue(value) } }
            let termination = RunTermination.current
            var runOptions: OpaquePointer?
            if let termination {
                try runtime.check(runtime.api.CreateRunOptions(&runOptions))
                guard let created = runOptions else { throw InferenceError.runtime(code: -1, message: "CreateRunOptions returned nothing") }
                if !termination.register(created) {
                    runtime.api.ReleaseRunOptions(created)
                    throw CancellationError()
                }
            }
            defer {
                if let runOptions {
                    termination?.unregister(runOptions)
                    runtime.api.ReleaseRunOptions(runOptions)
                }
            }
            do {
                try inputValues.withUnsafeBufferPointer { inputBuffer in
                    try results.withUnsafeMutableBufferPointer { resultBuffer in
                        try runtime.check(
                            runtime.api.Run(
                                session, runOptions, inputNames, inputBuffer.baseAddress, inputBuffer.count,
                                names, names.count, resultBuffer.baseAddress))
                    }
                }
            } catch  where termination?.isTerminated == true {
                throw CancellationError()  // ORT's "terminate flag" error: the job was cancelled
            }
            var outputsByName: [String: TensorValue] = [:]
            for (position, index) in outputIndices.enumerated() {
                let name = outputs[index].name
                guard let value = results[position] else { throw InferenceError.unsupportedOutputKind(name: name) }
                outputsByName[name] = try readTensor(value, name: name)
            }
            return outputsByName
        }
    }

    // MARK: - Input values (zero copy)

    /// Wraps each Swift buffer in an OrtValue that points at it, nesting so every buffer
    /// stays pinned until the model has run.
    private func withInputValues<R>(
        _ remaining: ArraySlice<(index: Int, value: TensorValue)>,
        collecting values: inout [OpaquePointer?],
        body: ([OpaquePointer?]) throws -> R
    ) throws -> R {
        guard let first = remaining.first else { return try body(values) }
        return try first.value.withUnsafeBytes { bytes in
            var placeholder: UInt8 = 0
            return try withUnsafeMutablePointer(to: &placeholder) { placeholderPointer in
                let data =
                    bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                    ?? UnsafeMutableRawPointer(placeholderPointer)
                let shape = first.value.shape.map(Int64.init)
                var value: OpaquePointer?
                try shape.withUnsafeBufferPointer { shapeBuffer in
                    try runtime.check(
                        runtime.api.CreateTensorWithDataAsOrtValue(
                            memoryInfo, data, bytes.count, shapeBuffer.baseAddress, shape.count,
                            first.value.elementType.ort, &value))
                }
                values.append(value)
                return try withInputValues(remaining.dropFirst(), collecting: &values, body: body)
            }
        }
    }

    // MARK: - Output values

    private func readTensor(_ value: OpaquePointer, name: String) throws -> TensorValue {
        var kind = ONNX_TYPE_UNKNOWN
        try runtime.check(runtime.api.GetValueType(value, &kind))
        guard kind == ONNX_TYPE_TENSOR else { throw InferenceError.unsupportedOutputKind(name: name) }
        var info: OpaquePointer?
        try runtime.check(runtime.api.GetTensorTypeAndShape(value, &info))
        guard let info else { throw InferenceError.unsupportedOutputKind(name: name) }
        defer { runtime.api.ReleaseTensorTypeAndShapeInfo(info) }
        let (elementType, shape) = try Self.typeAndShape(runtime: runtime, info: info)
        let dims = shape.map { Int($0) }
        let count = dims.reduce(1, *)
        var data: UnsafeMutableRawPointer?
        try runtime.check(runtime.api.GetTensorMutableData(value, &data))

        func copy<E: TensorElement>(_: E.Type) -> Tensor<E> {
            let scalars = [E](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0, let data, let destination = buffer.baseAddress {
                    UnsafeMutableRawPointer(destination).copyMemory(from: data, byteCount: count * MemoryLayout<E>.stride)
                }
                initialized = count
            }
            return Tensor(uncheckedShape: dims, scalars: scalars)
        }
        switch elementType {
        case .float32: return .float32(copy(Float.self))
        case .float16: return .float16(copy(Float16.self))
        case .int64: return .int64(copy(Int64.self))
        case .uint8: return .uint8(copy(UInt8.self))
        default: throw InferenceError.unsupportedElementType(name: name, type: elementType)
        }
    }

    // MARK: - Creation helpers

    private static func createSession(
        runtime: ORTRuntime, environment: InferenceEnvironment, path: String,
        options: SessionOptions, provider: ExecutionProvider
    ) throws -> OpaquePointer {
        let api = runtime.api
        var sessionOptions: OpaquePointer?
        try runtime.check(api.CreateSessionOptions(&sessionOptions))
        guard let sessionOptions else { throw InferenceError.runtime(code: -1, message: "CreateSessionOptions returned nothing") }
        defer { api.ReleaseSessionOptions(sessionOptions) }

        let level: GraphOptimizationLevel =
            switch options.graphOptimization {
            case .disabled: ORT_DISABLE_ALL
            case .basic: ORT_ENABLE_BASIC
            case .extended: ORT_ENABLE_EXTENDED
            case .all: ORT_ENABLE_ALL
            }
        try runtime.check(api.SetSessionGraphOptimizationLevel(sessionOptions, level))
        try runtime.check(api.SetIntraOpNumThreads(sessionOptions, Int32(options.deterministic ? 1 : options.intraOpThreads)))
        try runtime.check(api.SetInterOpNumThreads(sessionOptions, Int32(options.interOpThreads)))
        try runtime.check(api.SetSessionExecutionMode(sessionOptions, ORT_SEQUENTIAL))
        if options.deterministic {
            try runtime.check(api.SetDeterministicCompute(sessionOptions, true))
        }
        if !options.memoryArena { try runtime.check(api.DisableCpuMemArena(sessionOptions)) }
        if !options.memoryPattern { try runtime.check(api.DisableMemPattern(sessionOptions)) }
        try runtime.check(api.AddSessionConfigEntry(sessionOptions, "session.intra_op.allow_spinning", options.spinning ? "1" : "0"))

        try appendProvider(provider, options: options, to: sessionOptions, runtime: runtime)

        var session: OpaquePointer?
        try runtime.check(api.CreateSession(environment.handle, path, sessionOptions, &session))
        guard let session else { throw InferenceError.runtime(code: -1, message: "CreateSession returned nothing") }
        return session
    }

    /// Adds `provider` to ORT session options; throws ORT's reason when it is unusable.
    static func appendProvider(
        _ provider: ExecutionProvider, options: SessionOptions, to sessionOptions: OpaquePointer, runtime: ORTRuntime
    ) throws {
        let api = runtime.api
        switch provider {
        case .cpu:
            break
        case .cuda:
            guard try runtime.availableProviders().contains(ExecutionProvider.cuda.rawValue) else {
                throw InferenceError.runtime(
                    code: -1, message: "this ONNX Runtime build has no CUDA execution provider (install with `make setup GPU=1`)")
            }
            var cudaOptions: OpaquePointer?
            try runtime.check(api.CreateCUDAProviderOptions(&cudaOptions))
            guard let cudaOptions else { throw InferenceError.runtime(code: -1, message: "CreateCUDAProviderOptions returned nothing") }
            defer { api.ReleaseCUDAProviderOptions(cudaOptions) }
            let keys = ["device_id"]
            let valuesText = ["\(options.cudaDeviceID)"]
            try withCStrings(keys) { keyPointers in
                try withCStrings(valuesText) { valuePointers in
                    try runtime.check(api.UpdateCUDAProviderOptions(cudaOptions, keyPointers, valuePointers, keys.count))
                }
            }
            try runtime.check(api.SessionOptionsAppendExecutionProvider_CUDA_V2(sessionOptions, cudaOptions))
        }
    }

    private enum SignatureKind { case input, output }

    private static func signature(runtime: ORTRuntime, session: OpaquePointer, kind: SignatureKind) throws -> [TensorInfo] {
        let api = runtime.api
        var allocator: UnsafeMutablePointer<OrtAllocator>?
        try runtime.check(api.GetAllocatorWithDefaultOptions(&allocator))
        var count = 0
        try runtime.check(kind == .input ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count))
        return try (0..<count).map { index in
            var namePointer: UnsafeMutablePointer<CChar>?
            try runtime.check(
                kind == .input
                    ? api.SessionGetInputName(session, index, allocator, &namePointer)
                    : api.SessionGetOutputName(session, index, allocator, &namePointer))
            let name = namePointer.map { String(cString: $0) } ?? ""
            if let namePointer { _ = api.AllocatorFree(allocator, namePointer) }

            var typeInfo: OpaquePointer?
            try runtime.check(
                kind == .input
                    ? api.SessionGetInputTypeInfo(session, index, &typeInfo)
                    : api.SessionGetOutputTypeInfo(session, index, &typeInfo))
            guard let typeInfo else { throw InferenceError.unsupportedOutputKind(name: name) }
            defer { api.ReleaseTypeInfo(typeInfo) }
            var onnxType = ONNX_TYPE_UNKNOWN
            try runtime.check(api.GetOnnxTypeFromTypeInfo(typeInfo, &onnxType))
            guard onnxType == ONNX_TYPE_TENSOR else {
                return TensorInfo(name: name, elementType: .undefined, shape: [], dimensionNames: [])
            }
            var tensorInfo: OpaquePointer?  // owned by typeInfo
            try runtime.check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo))
            guard let tensorInfo else { throw InferenceError.unsupportedOutputKind(name: name) }
            let (elementType, dims) = try typeAndShape(runtime: runtime, info: tensorInfo)
            var symbolic = [UnsafePointer<CChar>?](repeating: nil, count: dims.count)
            try runtime.check(api.GetSymbolicDimensions(tensorInfo, &symbolic, dims.count))
            let names: [String?] = symbolic.map { pointer in
                guard let pointer, pointer.pointee != 0 else { return nil }
                return String(cString: pointer)
            }
            return TensorInfo(
                name: name, elementType: elementType,
                shape: dims.map { $0 >= 0 ? Int($0) : nil }, dimensionNames: names)
        }
    }

    private static func typeAndShape(runtime: ORTRuntime, info: OpaquePointer) throws -> (TensorElementType, [Int64]) {
        let api = runtime.api
        var type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED
        try runtime.check(api.GetTensorElementType(info, &type))
        var rank = 0
        try runtime.check(api.GetDimensionsCount(info, &rank))
        var dims = [Int64](repeating: 0, count: rank)
        try runtime.check(api.GetDimensions(info, &dims, rank))
        return (TensorElementType(ort: type), dims)
    }

    private static func reason(_ error: InferenceError) -> String {
        if case .runtime(_, let message) = error { return message }
        return error.description
    }
}

/// Calls `body` with C strings that live for its duration.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> R) rethrows -> R {
    let pointers = strings.map { strdup($0) }
    defer { for pointer in pointers { free(pointer) } }
    return try body(pointers.map { UnsafePointer($0) })
}
