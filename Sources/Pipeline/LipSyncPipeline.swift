import FaceTracking
import Foundation
import Inference
public import LipSync
public import Logging
public import Media
public import Speech
public import VoiceConversion

/// One job: a video (or photo) of a face + a phrase + a language → the face saying the phrase.
public struct JobRequest: Sendable {
    public var video: String
    public var text: String
    public var language: String
    public var output: String
    /// TTS engine (nil: the configured default).
    public var ttsEngine: SpeechEngineID?
    public var ttsVoice: String?
    /// Voice conversion (nil: FreeVC when installed and the video has a voice, else none).
    public var voiceMode: VoiceMode?
    /// Seed of the voice-conversion noise: the same request and seed give the same audio.
    public var seed: UInt64
    public var lipSync: LipSyncOptions
    /// Put on every log line of the job (the server's request id).
    public var requestID: String?
    /// Told every step's start and end, and the render's frames (nil: nobody listens).
    public var progress: JobProgressHandler?

    public init(
        video: String, text: String, language: String, output: String, ttsEngine: SpeechEngineID? = nil, ttsVoice: String? = nil,
        voiceMode: VoiceMode? = nil, seed: UInt64 = 0, lipSync: LipSyncOptions = LipSyncOptions(), requestID: String? = nil
    ) {
        self.requestID = requestID
        self.video = video
        self.text = text
        self.language = language
        self.output = output
        self.ttsEngine = ttsEngine
        self.ttsVoice = ttsVoice
        self.voiceMode = voiceMode
        self.seed = seed
        self.lipSync = lipSync
    }
}

/// Wall time of every step, in seconds. `tts` and `speakerEmbedding` run concurrently.
/// `fetchInput` and `storeOutput` are zero for a job on local files (`run(_:)`).
public struct JobTimings: Sendable, Equatable, Codable {
    public var fetchInput = 0.0
    /// SHA-256 of the input, the per-video cache's key (zero without a cache).
    public var hashInput = 0.0
    public var tts = 0.0
    public var speakerEmbedding = 0.0
    public var voiceConversion = 0.0
    public var render = RenderTimings()
    public var storeOutput = 0.0
    public var total = 0.0

    /// (step, seconds) in pipeline order, render steps indented — the original's
    /// "Performance Analysis" block.
    public var rows: [(step: String, seconds: Double)] {
        [
            ("fetch input", fetchInput), ("hash input", hashInput), ("text to speech", tts), ("speaker embedding", speakerEmbedding),
            ("voice conversion", voiceConversion),
        ]
            + render.rows.filter { $0.step != "total" }.map { ("  " + $0.step, $0.seconds) }
            + [("lip-sync render", render.total), ("store output", storeOutput), ("total", total)]
    }

    /// The rows keyed as in JSON, logs and metrics: `text_to_speech`, `track_faces`, `total`…
    public var keyedRows: [(key: String, seconds: Double)] {
        rows.map { (Self.key($0.step), $0.seconds) }
    }

    public static func key(_ step: String) -> String {
        step.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "_")
    }
}

public struct JobResult: Sendable {
    public let output: String
    public let frames: Int
    public let width: Int
    public let height: Int
    public let ttsEngine: SpeechEngineID
    public let ttsVoice: String
    public let voiceMode: VoiceMode
    /// Why voice conversion was not used, when it was not.
    public let voiceModeReason: String?
    /// Why the requested TTS engine was not used, when it was not.
    public let ttsFallbackReason: String?
    /// Whether the per-video work (speaker embedding, face detections) came from the cache.
    public let cached: Bool
    public let timings: JobTimings
}

/// TTS, voice conversion and lip-sync, with the independent steps run concurrently.
public struct LipSyncPipeline: Sendable {
    public let speech: SpeechService
    public let voice: VoiceConverter?
    public let renderer: LipSyncRenderer
    public let limits: MediaLimits
    /// Per-video work kept between jobs (nil: none).
    public let cache: VideoCache?
    /// What the registry loaded (set by whoever built the pipeline).
    public var models = ModelReport()
    /// How a job's memory is estimated for admission (set by whoever built the pipeline).
    public var memory = JobMemoryModel()
    private let logger: Logger

    public init(
        speech: SpeechService, voice: VoiceConverter?, renderer: LipSyncRenderer, limits: MediaLimits = MediaLimits(),
        cache: VideoCache? = nil, logger: Logger = Logger(label: "lipsync.pipeline")
    ) {
        self.speech = speech
        self.voice = voice
        self.renderer = renderer
        self.limits = limits
        self.cache = cache
        self.logger = logger
    }

    /// Runs the job. Cancelling the task stops it soon: model runs in progress are
    /// terminated (`RunTermination`), media reads interrupted, espeak-ng stopped at its next
    /// audio block, and the loops check between frames.
    public func run(_ request: JobRequest) async throws -> JobResult {
        let termination = RunTermination()
        return try await withTaskCancellationHandler {
            try await RunTermination.$current.withValue(termination) { try await runUnterminated(request) }
        } onCancel: {
            termination.terminate()
        }
    }

    private func runUnterminated(_ request: JobRequest) async throws -> JobResult {
        let clock = ContinuousClock()
        let started = clock.now
        var timings = JobTimings()
        var logger = self.logger
        if let id = request.requestID { logger[metadataKey: "request_id"] = "\(id)" }
        let (converter, reason) = chooseVoice(request)
        // The per-video cache entry: same bytes and same detection settings.
        var lipSync = request.lipSync
        let hashStart = clock.now
        // An unreadable input is reported by the decoders below, not here.
        let cacheKey = (try? cache.map { _ in try VideoCache.digest(of: request.video) }).flatMap { $0 }.map {
            "\($0)|\(type(of: renderer.detector))|\(lipSync.detectionMaxSide ?? 0)|\(lipSync.tracking.missingFace)"
        }
        var (videoEntry, cached): (VideoCache.Entry?, Bool) = (nil, false)
        if let cache, let cacheKey {
            (videoEntry, cached) = cache.entry(for: cacheKey)
            if !cached, let shared = cache.shared, let snapshot = await shared.load(cacheKey) {
                videoEntry?.apply(snapshot)
                cached = true
            }
        }
        let sharedBefore = videoEntry?.snapshot
        lipSync.detections = videoEntry?.detections
        timings.hashInput = cache == nil ? 0 : (clock.now - hashStart).seconds

        // TTS and the user's voice embedding do not depend on each other.
        let progress = request.progress
        async let synthesized: (SpeechResult, Double) = {
            let start = clock.now
            let result = try await JobProgress.step("text_to_speech", progress) {
                try await speech.synthesize(
                    text: request.text, language: request.language, engine: request.ttsEngine, voice: request.ttsVoice)
            }
            return (result, (clock.now - start).seconds)
        }()
        async let embedded: (Result<(embedding: [Float], rms: Float), any Error>?, Double) = {
            guard let converter else { return (nil, 0) }
            let start = clock.now
            if let known = videoEntry?.speaker { return (.success(known), (clock.now - start).seconds) }
            progress?(JobProgress(step: "speaker_embedding", event: .started))
            defer { progress?(JobProgress(step: "speaker_embedding", event: .finished)) }
            let outcome = Result { () throws -> (embedding: [Float], rms: Float) in
                let reference = try AudioDecoder.decode(request.video, sampleRate: 16_000, limits: limits)
                let range = SilenceTrimmer().voicedRange(reference.samples)
                return (try converter.speakerEmbedding(of: reference), VoiceConverter.rms(Array(reference.samples[range])))
            }
            if case .success(let voice) = outcome { videoEntry?.speaker = voice }
            return (outcome, (clock.now - start).seconds)
        }()
        let (tts, ttsSeconds) = try await synthesized
        // The cheap refusals before any frame is decoded: speech longer than the render takes.
        guard tts.audio.duration <= request.lipSync.maxSpeechSeconds else {
            throw LipSyncError.speechTooLong(seconds: tts.audio.duration, limit: request.lipSync.maxSpeechSeconds)
        }
        // The frames that speech this long needs, and their faces, while the voice is converted.
        // (A failure here is left to the render, which reports it with the same error.)
        let prepareOptions = lipSync
        let expectedSamples = Int((Double(tts.audio.samples.count) * 16_000 / Double(max(tts.audio.sampleRate, 1))).rounded())
        async let prepared: PreparedVideo? = {
            try? renderer.prepare(video: request.video, expectedSpeechSamples: expectedSamples, options: prepareOptions)
        }()
        let (embedding, embeddingSeconds) = await embedded
        timings.tts = ttsSeconds
        timings.speakerEmbedding = embeddingSeconds

        var speechAudio = tts.audio
        var mode = VoiceMode.none
        var modeReason = reason
        switch embedding {
        case .success(let voice)?:
            let start = clock.now
            guard let converter else { break }  // an embedding exists only with a converter
            speechAudio = try await JobProgress.step("voice_conversion", progress) {
                try converter.convert(tts.audio, embedding: voice.embedding, seed: request.seed, referenceRMS: voice.rms).audio
            }
            timings.voiceConversion = (clock.now - start).seconds
            mode = .freevc
        case .failure(let error)?:
            // A clip with too little voice (or none) still gets a video, in the TTS voice.
            guard error is VoiceConversionError || error is MediaError else { throw error }
            switch error as? MediaError {
            case .noAudioStream?, .notAVideo?: modeReason = "the input has no audio track to take the voice from"
            default: modeReason = "the video's voice cannot be used: \(error)"
            }
            logger.warning("voice conversion skipped", metadata: ["reason": "\(error)"])
        case nil:
            break
        }
        try Task.checkCancellation()
        if let progress {
            lipSync.progress = { progress(JobProgress(step: "lip-sync_render", event: .frames($0))) }
        }
        let preparedVideo = await prepared
        let renderOptions = lipSync
        let rendered = try await JobProgress.step("lip-sync_render", progress) {
            try await renderer.render(
                video: request.video, speech: speechAudio, output: request.output, options: renderOptions, prepared: preparedVideo)
        }
        timings.render = rendered.timings
        if let cacheKey, let shared = cache?.shared, let after = videoEntry?.snapshot, after != sharedBefore, !after.isEmpty {
            await shared.save(cacheKey, after)  // what this job computed, for every other process
        }
        timings.total = (clock.now - started).seconds
        // One line: every step's seconds as metadata (the table is JobTimings.rows / report()).
        var metadata: Logger.Metadata = [
            "output": "\(request.output)", "voice": "\(mode.rawValue)", "tts_engine": "\(tts.engine.rawValue)",
            "cached": "\(cached)",
        ]
        for row in timings.keyedRows { metadata["seconds_" + row.key] = "\(String(format: "%.3f", row.seconds))" }
        logger.info("job done", metadata: metadata)
        return JobResult(
            output: request.output, frames: rendered.frames, width: rendered.width, height: rendered.height,
            ttsEngine: tts.engine, ttsVoice: tts.voice, voiceMode: mode, voiceModeReason: modeReason,
            ttsFallbackReason: tts.fallbackReason, cached: cached, timings: timings)
    }

    private func chooseVoice(_ request: JobRequest) -> (VoiceConverter?, String?) {
        switch request.voiceMode {
        case .none?: return (nil, "voice conversion was not requested")
        case .freevc?, nil:
            guard let voice else { return (nil, "no voice conversion models are installed") }
            return (voice, nil)
        }
    }

    /// The timing table as text.
    public static func report(_ timings: JobTimings) -> String {
        timings.rows.map { $0.step.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%8.3f s", $0.seconds) }
            .joined(separator: "\n")
    }
}
