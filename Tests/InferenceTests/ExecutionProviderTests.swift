import Inference
import Logging
import Testing

@Suite struct ExecutionProviderTests {
    @Test func parsesShortAndORTNames() {
        #expect(ExecutionProvider(name: "cuda") == .cuda)
        #expect(ExecutionProvider(name: "CPUExecutionProvider") == .cpu)
        #expect(ExecutionProvider(name: "tpu") == nil)
    }

    /// Asking for CUDA where it cannot run (no GPU, or the CPU-only library) must still give
    /// a working session on CPU, say why once in the log, and report the active provider.
    @Test func cudaRequestFallsBackToCPUWithOneLogLine() throws {
        let capture = LogCapture()
        let environment = try InferenceEnvironment(logger: capture.logger(label: "test.fallback"))
        guard let reason = environment.unavailabilityReason(of: .cuda) else {
            // A machine with a usable CUDA provider: the session must run on it instead.
            let session = try Fixtures.session("add.onnx", options: SessionOptions(providers: [.cuda]), environment: environment)
            #expect(session.activeProvider == .cuda)
            return
        }
        #expect(!reason.isEmpty)
        let session = try Fixtures.session("add.onnx", options: SessionOptions(providers: [.cuda, .cpu]), environment: environment)
        #expect(session.activeProvider == .cpu)
        #expect(session.fallbacks.map(\.provider) == [.cuda])
        // A second model: the fallback is not announced again at warning level.
        let second = try Fixtures.session("conv.onnx", options: SessionOptions(providers: [.cuda, .cpu]), environment: environment)
        #expect(second.activeProvider == .cpu)
        let lines = capture.captured.filter { $0.contains("execution provider cuda unavailable, falling back to cpu") }
        #expect(lines.filter { $0.contains(" warning ") }.count == 1)
        #expect(lines.filter { $0.contains(" debug ") }.count == 1)

        // And it computes.
        let one = TensorValue(try Tensor<Float>(shape: [1, 4], repeating: 1))
        #expect(try session.run(["a": one, "b": one])["sum"] == .float32(try Tensor(shape: [1, 4], repeating: 2)))
    }

    @Test func cpuIsAlwaysTheLastResort() throws {
        let session = try Fixtures.session("add.onnx", options: SessionOptions(providers: [.cuda]))
        #expect([ExecutionProvider.cuda, .cpu].contains(session.activeProvider))
    }

    @Test func environmentReportsVersionAndProviders() throws {
        #expect(Fixtures.environment.runtimeVersion.split(separator: ".").count == 3)
        #expect(try Fixtures.environment.availableProviders().contains("CPUExecutionProvider"))
        #expect(InferenceEnvironment.apiVersion >= 21)
        #expect(Fixtures.environment.unavailabilityReason(of: .cpu) == nil)
    }
}
