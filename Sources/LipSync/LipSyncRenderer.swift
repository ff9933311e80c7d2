import FaceTracking
import Foundation
import Inference
import Logging
import Media

/// Everything a render can be asked to do differently.
public struct LipSyncOptions: Sendable {
    public var tracking: TrackingOptions
    public var frameOrder: FrameOrder
    public var composite: CompositeMode
    /// Faces per generator call.
    public var batchSize: Int
    /// Longer side of the copy faces are detected on (nil: full resolution, as the original).
    public var detectionMaxSide: Int?
    /// Longest speech accepted, in seconds.
    public var maxSpeechSeconds: Double
    public var encoder: EncoderOptions
    public var limits: MediaLimits
    /// Receives every output frame before encoding (parity checks and debugging).
    public var frameSink: (@Sendable (_ index: Int, _ frame: Frame) throws -> Void)?
    /// Face detections remembered for this input video (per-video cache); nil: detect every key frame.
    public var detections: DetectionMemo?

    public init(tracking: TrackingOptions = TrackingOptions(), frameOrder: FrameOrder = .pingPong, composite: CompositeMode = .blend,
                batchSize: Int = 16, detectionMaxSide: Int? = 320, maxSpeechSeconds: Double = 30,
                encoder: EncoderOptions = EncoderOptions(), limits: MediaLimits = MediaLimits()) {
        self.tracking = tracking
        self.frameOrder = frameOrder
        self.composite = composite
        self.batchSize = batchSize
        self.detectionMaxSide = detectionMaxSide
        self.maxSpeechSeconds = maxSpeechSeconds
        self.encoder = encoder
        self.limits = limits
    }
}

/// Wall time of each step of a render, in seconds.
public struct RenderTimings: Sendable, Equatable, Codable {
    public var mel = 0.0
    public var decode = 0.0
    public var track = 0.0
    public var infer = 0.0
    public var composite = 0.0
    public var encode = 0.0
    public var total = 0.0

    public init() {}

    /// Rows for a timing table, in pipeline order.
    public var rows: [(step: String, seconds: Double)] {
        [("mel", mel), ("decode", decode), ("track faces", track), ("lip-sync inference", infer),
         ("composite", composite), ("encode", encode), ("total", total)]
    }
}

/// The finished video and how it was made.
public struct RenderedVideo: Sendable {
    public let path: String
    public let frames: Int
    public let sourceFramesDecoded: Int
    public let width: Int
    public let height: Int
    public let frameRate: Rational
    public let track: FaceTrack
    public let timings: RenderTimings
}

/// A video's frames decoded and its faces detected ahead of the render, while the speech is
/// still being made (the pipeline runs this concurrently with voice conversion). Made for an
/// expected speech length; the render uses it when it holds every frame the real speech
/// needs, and decodes again otherwise. Tracking itself is redone on exactly the needed
/// frames from the remembered detections, so the result is the same as without it.
public struct PreparedVideo: Sendable {
    public let video: String
    let frames: [DecodedFrame]
    let rate: Rational
    /// The video has no frames beyond `frames`.
    let complete: Bool
    let detections: DetectionMemo
    let decodeSeconds: Double
    let trackSeconds: Double
}

/// The lip-sync stage: speech + a video of a face → the video with the mouth moving to the
/// speech, at the input's full resolution, with the speech as its audio track.
public struct LipSyncRenderer: Sendable {
    public let melFrontEnd: MelFrontEnd
    public let generator: Wav2LipGenerator
    public let detector: any FaceDetector
    private let logger: Logger

    public init(melFrontEnd: MelFrontEnd, generator: Wav2LipGenerator, detector: any FaceDetector,
                logger: Logger = Logger(label: "lipsync.render")) {
        self.melFrontEnd = melFrontEnd
        self.generator = generator
        self.detector = detector
        self.logger = logger
    }

    /// Decodes the frames that speech of `expectedSpeechSamples` (16 kHz) will need, plus a
    /// small margin, and detects their faces into `options.detections` (or a new memo).
    /// Checks for cancellation around the decode.
    public func prepare(video: String, expectedSpeechSamples: Int, options: LipSyncOptions = LipSyncOptions()) throws -> PreparedVideo {
        let clock = ContinuousClock()
        let start = clock.now
        let (decoder, photo) = try open(video, options: options)
        let rate = decoder?.video.averageFrameRate ?? Rational(25, 1)
        let melFrames = max(expectedSpeechSamples, melFrontEnd.minimumSamples) / 200 + 1  // 80 mel frames per second at 16 kHz
        let wanted = MelSpectrogram.chunkStarts(melFrames: melFrames, fps: rate.value).count
        let margin = 3
        let target = min(wanted + margin, options.limits.maxFrameCount)
        try Task.checkCancellation()
        let frames = try decoder?.frames(upTo: target) ?? [photo].compactMap { $0 }
        try Task.checkCancellation()
        let decoded = clock.now
        let memo = options.detections ?? DetectionMemo()
        if !frames.isEmpty {
            _ = try FaceTracker(detector: detector, options: options.tracking).track(Array(frames.prefix(wanted)), memo: memo)
        }
        return PreparedVideo(video: video, frames: frames, rate: rate, complete: photo != nil || frames.count < target,
                             detections: memo, decodeSeconds: (decoded - start).seconds, trackSeconds: (clock.now - decoded).seconds)
    }

    /// A decoder for `video`, or its single frame when it is a still photo.
    private func open(_ video: String, options: LipSyncOptions) throws -> (VideoDecoder?, DecodedFrame?) {
        let decodeOptions = DecodeOptions(pixelFormat: .bgr24, detectionMaxSide: options.detectionMaxSide)
        // A still photo is a one-frame video at the original's default --fps 25, face found once.
        do {
            return (try VideoDecoder(path: video, options: decodeOptions, limits: options.limits), nil)
        } catch MediaError.notAVideo {
            return (nil, try StillImage.decode(video, options: decodeOptions, limits: options.limits))
        }
    }

    /// Renders `video` speaking `speech` into `output` (MP4, H.264 + AAC). `video` may also
    /// be a still photo (PNG, JPEG): one frame at 25 fps, as the original's image input.
    /// Honours task cancellation between batches; the output file appears only when complete.
    /// `prepared` (from `prepare`) saves the decode and the detections when it covers the speech.
    public func render(video: String, speech: AudioBuffer, output: String, options: LipSyncOptions = LipSyncOptions(),
                       prepared: PreparedVideo? = nil) async throws -> RenderedVideo {
        guard !speech.samples.isEmpty, speech.sampleRate > 0 else { throw LipSyncError.emptySpeech }
        guard speech.duration <= options.maxSpeechSeconds else {
            throw LipSyncError.speechTooLong(seconds: speech.duration, limit: options.maxSpeechSeconds)
        }
        var timings = RenderTimings()
        let clock = ContinuousClock()
        let started = clock.now
        func measure<T>(_ keyPath: WritableKeyPath<RenderTimings, Double>, _ body: () throws -> T) rethrows -> T {
            let start = clock.now
            defer { timings[keyPath: keyPath] += (clock.now - start).seconds }
            return try body()
        }

        let mel = try measure(\.mel) { try melFrontEnd.spectrogram(of: speech) }
        let frames: [DecodedFrame]
        let rate: Rational
        var memo = options.detections
        if let prepared, prepared.video == video,
           case let needed = MelSpectrogram.chunkStarts(melFrames: mel.frames, fps: prepared.rate.value).count,
           prepared.frames.count >= needed || prepared.complete {
            rate = prepared.rate
            frames = Array(prepared.frames.prefix(needed))
            memo = prepared.detections
            timings.decode = prepared.decodeSeconds
            timings.track = prepared.trackSeconds
        } else {
            let (decoder, photo) = try open(video, options: options)
            rate = decoder?.video.averageFrameRate ?? Rational(25, 1)
            let count = MelSpectrogram.chunkStarts(melFrames: mel.frames, fps: rate.value).count
            frames = try measure(\.decode) { try decoder?.frames(upTo: count) ?? [photo].compactMap { $0 } }
        }
        let starts = MelSpectrogram.chunkStarts(melFrames: mel.frames, fps: rate.value)
        guard !frames.isEmpty else { throw LipSyncError.noFrames }
        let schedule = FrameSchedule(outputCount: starts.count, sourceCount: frames.count, order: options.frameOrder)
        let track = try measure(\.track) { try FaceTracker(detector: detector, options: options.tracking).track(frames, memo: memo) }
        try Task.checkCancellation()

        let (width, height) = (frames[0].frame.width, frames[0].frame.height)
        let writer = try MediaWriter(path: output, video: VideoFormat(width: width, height: height, frameRate: rate),
                                     audio: speech, options: options.encoder)
        let compositor = FaceCompositor(mode: options.composite)
        var crops: [Int: Frame] = [:]
        let batch = max(1, options.batchSize)
        for batchStart in stride(from: 0, to: starts.count, by: batch) {
            try Task.checkCancellation()
            let outputs = Array(batchStart..<min(starts.count, batchStart + batch))
            let withFace = outputs.filter { track.boxes[schedule.sourceIndices[$0]] != nil }
            let generated: [Frame] = try measure(\.infer) {
                let faces = try withFace.map { i -> Frame in
                    let source = schedule.sourceIndices[i]
                    if let crop = crops[source] { return crop }
                    let crop = try generator.faceCrop(frames[source].frame, box: track.boxes[source]!)  // filtered above
                    crops[source] = crop
                    return crop
                }
                return try generator.generate(faces: faces, mels: withFace.map { mel.chunk(at: starts[$0]) })
            }
            var generatedByOutput: [Int: Frame] = [:]
            for (i, face) in zip(withFace, generated) { generatedByOutput[i] = face }
            for i in outputs {
                let source = schedule.sourceIndices[i]
                var picture = frames[source].frame
                if let box = track.boxes[source], let face = generatedByOutput[i] {
                    try measure(\.composite) { try compositor.composite(face, into: &picture, box: box) }
                }
                try options.frameSink?(i, picture)
                try measure(\.encode) { try writer.append(picture) }
            }
        }
        try measure(\.encode) { try writer.finish() }
        timings.total = (clock.now - started).seconds
        logger.info("rendered \(starts.count) frames", metadata: [
            "output": "\(output)", "decoded": "\(frames.count)", "detections": "\(track.detectedFrames)",
            "seconds": "\(String(format: "%.2f", timings.total))",
        ])
        return RenderedVideo(path: output, frames: starts.count, sourceFramesDecoded: frames.count, width: width, height: height,
                             frameRate: rate, track: track, timings: timings)
    }
}
