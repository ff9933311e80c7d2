import ArgumentParser
import Foundation
import Inference
import Logging

/// Micro-benchmark of the ONNX Runtime binding: per-call overhead on a tiny model and
/// throughput on a Conv-heavy one. `make bench` runs it next to the same measurement in
/// Python onnxruntime (tools/modelkit/modelkit/bench_ort.py) on the same model files.
@main
struct InferenceBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inference-bench",
        abstract: "Time the Swift ONNX Runtime binding (per-call overhead and Conv throughput).")

    @Option(help: "Directory written by `make fixtures`.")
    var fixtures: String = ".fixtures"

    @Option(help: "Calls of the tiny Add model for the per-call overhead.")
    var calls: Int = 20_000

    @Option(help: "Runs of the Conv-heavy model per batch size.")
    var convRuns: Int = 20

    @Option(help: "Intra-op threads (0: ONNX Runtime's choice).")
    var threads: Int = 0

    @Flag(
        name: .customLong("leak-check"),
        help: ArgumentHelp(
            "Instead of timing: run the Conv model 10 000 times (plus 1 000 failing runs) "
                + "and fail if resident memory grows by 48 MB or more.")
    )
    var leakCheck = false

    func run() throws {
        if leakCheck { return try checkLeaks() }
        let environment = try InferenceEnvironment(logger: Logger(label: "bench.onnxruntime"))
        let options = SessionOptions(intraOpThreads: threads)
        print("Swift binding — ONNX Runtime \(environment.runtimeVersion), \(MachineDescription.current)")

        // Per-call overhead: a [1,4] Add costs ORT almost nothing, so the time is the binding's
        // (validation, tensor wrapping, output copy) plus ORT's fixed per-Run cost.
        let add = try InferenceSession(environment: environment, modelPath: fixtures + "/add.onnx", options: options)
        let a = TensorValue(try Tensor<Float>(shape: [1, 4], scalars: [1, 2, 3, 4]))
        let b = TensorValue(try Tensor<Float>(shape: [1, 4], scalars: [4, 3, 2, 1]))
        for _ in 0..<1_000 { _ = try add.run(["a": a, "b": b]) }
        var perCall: [Double] = []
        perCall.reserveCapacity(calls)
        for _ in 0..<calls {
            let start = ContinuousClock.now
            _ = try add.run(["a": a, "b": b])
            perCall.append((ContinuousClock.now - start).microseconds)
        }
        perCall.sort()
        print(
            String(
                format: "  add [1,4]       per call: mean %.2f µs, p50 %.2f µs, p99 %.2f µs (%d calls)",
                perCall.reduce(0, +) / Double(calls), perCall[calls / 2], perCall[calls * 99 / 100], calls))

        // Throughput: FLOPs from models.json (written by modelkit with the model).
        let metaData = try Data(contentsOf: URL(fileURLWithPath: fixtures + "/models.json"))
        let meta = try JSONDecoder().decode(ModelsMeta.self, from: metaData).conv_heavy
        let heavy = try InferenceSession(environment: environment, modelPath: fixtures + "/conv_heavy.onnx", options: options)
        for batch in [1, 4] {
            let count = batch * meta.channels * meta.size * meta.size
            let input = TensorValue(
                try Tensor<Float>(
                    shape: [batch, meta.channels, meta.size, meta.size],
                    scalars: (0..<count).map { Float($0 % 17) / 17 }))
            for _ in 0..<2 { _ = try heavy.run(["x": input]) }
            var times: [Double] = []
            for _ in 0..<convRuns {
                let start = ContinuousClock.now
                _ = try heavy.run(["x": input])
                times.append((ContinuousClock.now - start).microseconds / 1e3)
            }
            times.sort()
            let median = times[times.count / 2]
            let gflops = Double(meta.flops_per_item * batch) / (median / 1e3) / 1e9
            print(
                String(
                    format: "  conv_heavy batch %d: median %.1f ms, min %.1f ms, %.1f GFLOP/s (%d runs)",
                    batch, median, times[0], gflops, convRuns))
        }
    }
}

extension InferenceBenchmark {
    /// In its own process, so other work cannot move the resident-set figure. Each run
    /// makes a 64 KiB output: leaking the outputs alone would add ~640 MB.
    func checkLeaks() throws {
        let environment = try InferenceEnvironment(logger: Logger(label: "leak-check"), runtimeLogLevel: .critical)
        let session = try InferenceSession(environment: environment, modelPath: fixtures + "/conv.onnx")
        let input = TensorValue(try Tensor<Float>(shape: [1, 3, 64, 64], repeating: 0.25))
        let bad = TensorValue(try Tensor<Float>(shape: [1, 3, 0, 0], repeating: 0))
        for _ in 0..<500 { _ = try session.run(["x": input]) }
        let before = try residentBytes()
        for iteration in 0..<10_000 {
            _ = try session.run(["x": input])
            if iteration % 10 == 0 { _ = try? session.run(["x": bad]) }  // failing ORT calls release their status too
        }
        let growth = try residentBytes() - before
        print("resident memory growth over 10000 runs: \(growth / 1024) KiB")
        if growth >= 48 * 1024 * 1024 { throw ExitCode.failure }
    }

    private func residentBytes() throws -> Int {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { throw ValidationError("cannot read /proc/self/statm") }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

struct ModelsMeta: Decodable {
    struct Heavy: Decodable {
        let flops_per_item: Int
        let channels: Int
        let size: Int
    }
    let conv_heavy: Heavy
}

enum MachineDescription {
    /// "<cpu model>, <n> cores" from /proc/cpuinfo.
    static var current: String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            info.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}

extension Duration {
    var microseconds: Double {
        let parts = components
        return Double(parts.seconds) * 1e6 + Double(parts.attoseconds) / 1e12
    }
}
