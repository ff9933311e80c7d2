import Dispatch
import Foundation
import FuzzSupport
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Server
import Storage
import Synchronization

// The job request body (`POST /api/v1/lip-video`, docs/fuzzing.md, `fuzz-request-body`): the
// input is the body, sent through the server's own router (HummingbirdTesting's router mode, no
// sockets). Everything before the pipeline runs: the 64 KiB limit, the JSON decoder into
// `LipVideoRequest`, the decoding-error answers, field validation and both storage URIs
// (local storage confined to a temporary root; no Cloud Storage). The models never load (the
// provider refuses), so a valid request ends 503 `models_unavailable`.
//
// The server must answer every body with a JSON error it chose: never 500, never a body that is
// not `{"error": {"code": …}}`.

struct NoModels: Error {}

/// The context of the outer router: HummingbirdTesting makes a test channel for every request
/// and never closes it (about 10 KB leaked per request), so the outer route closes it.
struct ChannelContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// The server, its router and the application are built once per process. The storage root is
/// also the working directory, so relative names in the seeds (`out/result.mp4`) are inside it
/// (libFuzzer is given absolute paths by fuzz/run.sh).
let application: Application<RouterResponder<ChannelContext>> = {
    let root = FuzzWorkspace.path("root")
    try? FileManager.default.createDirectory(atPath: root + "/out", withIntermediateDirectories: true)
    guard FileManager.default.changeCurrentDirectoryPath(root) else { fatalError("fuzz: cannot enter \(root)") }
    let storage = StorageService(local: LocalStore(roots: [root]), gcs: nil, gcsUnavailable: "no Cloud Storage while fuzzing", https: nil)
    let server = LipSyncServer(
        provider: PipelineProvider { throw NoModels() }, limiter: JobLimiter(maxConcurrent: 64, maxQueued: 64), storage: storage,
        workspaceBase: FuzzWorkspace.path("work"), jobTimeout: .seconds(30), logger: FuzzLogging.quiet)
    // The server's own router answers (its errors become responses there, as in `lipsync serve`).
    let responder = server.router().buildResponder()
    let outer = Router(context: ChannelContext.self)
    outer.post("/api/v1/lip-video") { request, context -> Response in
        defer { context.channel.close(promise: nil) }
        return try await responder.respond(
            to: request, context: BasicRequestContext(source: .init(channel: context.channel, logger: FuzzLogging.quiet)))
    }
    return Application(router: outer, logger: FuzzLogging.quiet)
}()

/// What one request got back, handed from the task that ran it to the fuzzer's thread.
final class Outcome: Sendable {
    let value = Mutex<(status: Int, body: Data)?>(nil)
    let failure = Mutex<String?>(nil)
    let done = DispatchSemaphore(value: 0)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestBody(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let body = ByteBuffer(bytes: UnsafeBufferPointer(start: data, count: size))
    let outcome = Outcome()
    let app = application
    Task {
        do {
            try await app.test(.router) { client in
                try await client.execute(uri: "/api/v1/lip-video", method: .post, headers: [.contentType: "application/json"], body: body) {
                    response in
                    outcome.value.withLock { $0 = (Int(response.status.code), Data(buffer: response.body)) }
                }
            }
        } catch {
            outcome.failure.withLock { $0 = "\(error)" }
        }
        outcome.done.signal()
    }
    outcome.done.wait()

    let input = String(decoding: UnsafeBufferPointer(start: data, count: min(size, 2000)), as: UTF8.self).debugDescription
    if let failure = outcome.failure.withLock({ $0 }) { require(false, "the request failed in the test client: \(failure); body \(input)") }
    guard let (status, answer) = outcome.value.withLock({ $0 }) else {
        require(false, "no answer; body \(input)")
        return 0
    }
    let text = String(decoding: answer, as: UTF8.self)
    require(status != 500, "500 for body \(input): \(text)")
    require(status >= 400, "status \(status) with no models loaded, for body \(input): \(text)")
    let object = (try? JSONSerialization.jsonObject(with: answer)) as? [String: Any]
    let error = object?["error"] as? [String: Any]
    require(error?["code"] is String && error?["message"] is String, "status \(status) without a JSON error for body \(input): \(text)")
    return 0
}
