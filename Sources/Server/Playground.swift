import Foundation
import HTTPTypes
import Hummingbird
public import Media
import MultipartKit
import NIOCore
import NIOFoundationCompat
import Pipeline
import Resilience
import Speech
import UserFacingErrors

/// The web playground (`GET /`, docs/playground.md): a page in the binary's resources, and
/// the upload route it sends a selfie video or photo to. Uploads go to `directory/uploads`
/// (one of the storage roots), results to `directory/outputs`.
public struct PlaygroundSettings: Sendable {
    /// The playground's folder (a storage root; `PLAYGROUND_DIR`, default `DATA_DIR/playground`).
    public var directory: String
    /// What an upload may be: the server's input limits (size, duration, dimensions, frames).
    public var limits: MediaLimits

    public init(directory: String, limits: MediaLimits = MediaLimits()) {
        self.directory = directory
        self.limits = limits
    }

    var uploads: String { directory + "/uploads" }
    var outputs: String { directory + "/outputs" }
}

extension LipSyncServer {
    /// The page's files (an allowlist: nothing else under /playground/ is served).
    static let playgroundFiles: [String: String] = [
        "index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
    ]
    static let uploadExtensions: Set<String> = ["mp4", "mov", "m4v", "webm", "mkv", "avi", "png", "jpg", "jpeg", "webp"]

    func addPlaygroundRoutes(to router: Router<BasicRequestContext>, playground: PlaygroundSettings) {
        router.get("/") { _, _ in try Self.playgroundFile("index.html") }
        router.get("/playground/{file}") { _, context in try Self.playgroundFile(context.parameters.get("file") ?? "") }
        router.post("/api/v2/uploads") { request, _ in try await self.upload(request, playground: playground) }
        router.get("/api/v2/jobs/{id}/output") { _, context in try await self.playgroundOutput(context, playground: playground) }
    }

    static func playgroundFile(_ name: String) throws -> Response {
        guard let type = playgroundFiles[name],
            let url = Bundle.module.url(
                forResource: (name as NSString).deletingPathExtension, withExtension: (name as NSString).pathExtension,
                subdirectory: "playground"),
            let data = try? Data(contentsOf: url)
        else { throw APIError(.notFound, code: "not_found", message: "no such playground file") }
        return Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// GET /api/v2/capabilities: what the page offers — the languages the server speaks, the
    /// engines, voice modes and options, the limits, and whether stand-in models are served.
    func capabilities() async throws -> Response {
        let pipeline = try? await provider.pipeline()
        var languages: [String] = []
        if let speech = pipeline?.speech { languages = (try? await speech.supportedLanguages()) ?? [] }
        let standins = pipeline?.models.models.filter(\.standin).map(\.kind) ?? []
        let body: [String: Any] = [
            "languages": languages, "tts_engines": pipeline?.speech.availableEngines.map(\.rawValue) ?? [],
            "default_tts_engine": pipeline?.speech.defaultEngine.rawValue ?? "espeak",
            "voice_modes": (pipeline?.voice == nil ? ["none"] : ["freevc", "none"]), "tracking": ["keyframes", "every", "static"],
            "composite": ["blend", "replace"], "max_text_characters": pipeline?.speech.textLimit ?? 0,
            "max_upload_bytes": jobs != nil ? (playground?.limits.maxFileBytes ?? 0) : 0, "playground": playground != nil,
            "async_jobs": jobs != nil, "standin_models": standins,
        ]
        return try Self.jobResponse(body, status: .ok)
    }

    /// POST /api/v2/uploads: one `file` part of a multipart/form-data body, streamed to disk,
    /// size-limited, then probed (a video or a still image the pipeline accepts) → 201 with
    /// the URI to use as `user_video_gs` and an `output_uri` in the playground's outputs.
    func upload(_ request: Request, playground: PlaygroundSettings) async throws -> Response {
        guard let type = request.headers[.contentType], let boundary = Self.multipartBoundary(type) else {
            throw APIError(
                .unsupportedMediaType, code: "invalid_upload", message: "send the file as multipart/form-data with a part named 'file'",
                field: "file")
        }
        let id = UUID().uuidString.lowercased()
        try FileManager.default.createDirectory(atPath: playground.uploads, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: playground.outputs, withIntermediateDirectories: true)
        let partial = playground.uploads + "/.partial-" + id
        var finished = false
        defer { if !finished { try? FileManager.default.removeItem(atPath: partial) } }
        let limit = playground.limits.maxFileBytes
        let timeout = APIError(
            .requestTimeout, code: "body_timeout",
            message: "the upload did not arrive within \(timeouts.body * 10) (10 × HTTP_BODY_TIMEOUT_SECONDS)")
        let received = try await withTimeLimit(timeouts.body * 10, timeout: timeout) {
            try await Self.receiveFilePart(request.body, boundary: boundary, to: partial, limit: limit)
        }
        guard received.bytes > 0 else {
            throw APIError(.badRequest, code: "invalid_upload", message: "the body has no non-empty part named 'file'", field: "file")
        }
        let info: VideoInfo
        do {
            // FFmpeg's probe blocks: on the job threads, not the cooperative pool.
            info = try await withTaskExecutorPreference(executor) {
                try MediaProbe.probe(partial, limits: playground.limits, acceptStillImages: true)
            }
            _ = try info.requireVideo()
        } catch {
            var api = Self.apiError(for: error)
            if api.status == .internalServerError { api = APIError(.unprocessableContent, code: "unsupported_media", message: "\(error)") }
            throw APIError(
                api.status, code: api.code, message: "the file is not a video or photo this server can use: \(api.message)", field: "file")
        }
        let ext = ((received.filename ?? "") as NSString).pathExtension.lowercased()
        let path = playground.uploads + "/" + id + "." + (Self.uploadExtensions.contains(ext) ? ext : "upload")
        try FileManager.default.moveItem(atPath: partial, toPath: path)
        finished = true
        let video = try info.requireVideo()
        var response = try Self.jobResponse(
            [
                "uri": path, "output_uri": playground.outputs + "/" + id + ".mp4", "bytes": received.bytes, "width": video.width,
                "height": video.height, "duration": info.duration,
            ], status: .created)
        response.headers[.location] = path
        return response
    }

    /// The boundary parameter of a multipart/form-data content type.
    static func multipartBoundary(_ contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() where part.lowercased().hasPrefix("boundary=") {
            let value = part.dropFirst("boundary=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            return (1...70).contains(value.utf8.count) ? value : nil
        }
        return nil
    }

    /// Streams the `file` part of a multipart body into `path` (other parts are ignored);
    /// 413 beyond `limit` bytes, 400 for a malformed body.
    static func receiveFilePart(_ body: RequestBody, boundary: String, to path: String, limit: Int) async throws
        -> (bytes: Int, filename: String?)
    {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw InternalFailure("cannot create \(path)")
        }
        defer { try? handle.close() }
        let parser = MultipartParser(boundary: boundary)
        var inFile = false
        var sawPart = false
        var sawFile = false
        var filename: String?
        var bytes = 0
        var failure: (any Error)?
        parser.onHeader = { name, value in
            sawPart = true
            guard name.lowercased() == "content-disposition" else { return }
            let fields = value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            let named = fields.first { $0.lowercased().hasPrefix("name=") }?.dropFirst(5).trimmingCharacters(
                in: CharacterSet(charactersIn: "\""))
            inFile = named == "file" && !sawFile
            if inFile {
                filename = fields.first { $0.lowercased().hasPrefix("filename=") }?.dropFirst(9)
                    .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        parser.onBody = { buffer in
            guard inFile, failure == nil else { return }
            bytes += buffer.readableBytes
            guard bytes <= limit else {
                failure = APIError(
                    .contentTooLarge, code: "upload_too_large", message: "the file is larger than \(limit) bytes (MAX_INPUT_BYTES)",
                    field: "file")
                return
            }
            do { try handle.write(contentsOf: buffer.readableBytesView) } catch { failure = error }
        }
        parser.onPartComplete = {
            if inFile { sawFile = true }
            inFile = false
        }
        do {
            for try await chunk in body {
                try parser.execute(chunk)
                if let failure { throw failure }
            }
        } catch let error as APIError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            let message = sawPart ? "the multipart body is malformed (\(error))" : "the body has no part named 'file': choose a file"
            throw APIError(.badRequest, code: "invalid_upload", message: message, field: "file")
        }
        return (sawFile ? bytes : 0, filename)
    }

    /// GET /api/v2/jobs/{id}/output: the MP4 of a succeeded job whose output is in the
    /// playground's outputs folder (nothing else is served).
    func playgroundOutput(_ context: BasicRequestContext, playground: PlaygroundSettings) async throws -> Response {
        guard let jobs else { throw APIError(.notFound, code: "not_found", message: "asynchronous jobs are not served here") }
        let job = try await existingJob(context, jobs: jobs)
        guard job.status == .succeeded, let data = job.result.map({ Data($0.utf8) }),
            let result = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let output = result["output_video_gs"] as? String
        else { throw APIError(.conflict, code: "no_output", message: "the job has no output (it is \(job.status.rawValue))") }
        let folder = URL(fileURLWithPath: playground.outputs).standardizedFileURL.path + "/"
        let path = URL(fileURLWithPath: output).standardizedFileURL.path
        guard path.hasPrefix(folder), let file = FileManager.default.contents(atPath: path) else {
            throw APIError(.notFound, code: "output_not_served", message: "only outputs in the playground's folder are served here")
        }
        return Response(status: .ok, headers: [.contentType: "video/mp4"], body: .init(byteBuffer: ByteBuffer(data: file)))
    }
}
