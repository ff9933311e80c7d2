public import FaceTracking
import Foundation
import Inference
public import Logging
public import Media

/// Everything a render can be asked to do differently.
public struct LipSyncOptions: Sendable {
    public var tracking: TrackingOptions
    public var frameOrder: FrameOrder
    public var composite: CompositeMode
    /// Faces per generator call (at most; see `frameMemoryBytes`). 8 by default: on the CPU,
    /// 8, 10 and 12 infer as fast as 16, and 16 faces' activations (~148 MB) no longer fit ONNX
    /// Runtime's first 128 MiB arena region, so the arena grows a 256 MiB region whose touched
    /// pages creep up over a long job (docs/memory.md: `lipsync sync` with a 10.6 s phrase at 1080p
    /// peaked at 934 MB with 16, 700 MB with 8).
    public var batchSize: Int
    /// Full-resolution frames a render may hold at once, in bytes of BGR pixels (each frame also
    /// keeps its decoder's yuv420p picture, half as much again, for the encoder: `DecodeOptions.
    /// keepsCodedPicture`): a generator batch is cut
    /// to fit (the default 64 MiB: 2 frames at 4K, 6 at 1440p, the default batch of 8 at 1080p;
    /// at 128 MiB a 4K job peaked ~110 MB higher for no speed: decoding and encoding dominate there).
    public var frameMemoryBytes = 64 << 20
    /// Longer side of the copy faces are detected on (nil: full resolution, as the original).
    public var detectionMaxSide: Int?
    /// Longest speech accepted, in seconds.
    public var maxSpeechSeconds: Double
    public var encoder: EncoderOptions
    public var limits: MediaLimits
    /// Receives every output frame before encoding (parity checks and debugging).
    public var frameSink: (@Sendable (_ index: Int, _ frame: Frame) throws -> Void)?
    /// Told after every generator batch is encoded (and once with 0 frames before the first).
    public var progress: (@Sendable (RenderProgress) -> Void)?
    /// Face detections remembered for this input video (per-video cache); nil: detect every key frame.
    public var detections: DetectionMemo?
    /// Composite and encode one generator batch while the next one is inferred (on a thread of
    /// its own); the two batches then share `frameMemoryBytes`, so each is half as large. nil
    /// (auto): on, on every provider. On the CPU it was off until ONNX Runtime's threads
    /// stopped spinning between runs (`SessionOptions.spinning`); measured since on 2 cores:
    /// int8 word case render 1.68–1.76 s with it against 1.77–1.94 s without, float32 the same
    /// either way (docs/pipeline.md).
    public var overlap: Bool?

    public init(
        tracking: TrackingOptions = TrackingOptions(), frameOrder: FrameOrder = .pingPong, composite: CompositeMode = .blend,
        batchSize: Int = 8, detectionMaxSide: Int? = 320, maxSpeechSeconds: Double = 30,
        encoder: EncoderOptions = EncoderOptions(), limits: MediaLimits = MediaLimits()
    ) {
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

extension LipSyncOptions {
    /// Frames per generator batch for `width`×`height` pictures: `batchSize`, fewer when
    /// that many would not fit in `frameMemoryBytes`, at least one.
    public func framesPerBatch(width: Int, height: Int, overlapping: Bool = false) -> Int {
        max(1, min(batchSize, frameMemoryBytes / (overlapping ? 2 : 1) / max(1, width * height * 3)))
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
        [
            ("mel", mel), ("decode", decode), ("track faces", track), ("lip-sync inference", infer),
            ("composite", composite), ("encode", encode), ("total", total),
        ]
    }
}

extension LipSyncRenderer {
    /// Runs `body` on a Dispatch thread, off Swift's cooperative pool (ONNX Runtime calls block
    /// for the whole batch), and waits for it.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try body() }) }
        }
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

/// A video scanned for faces ahead of the render, while the speech is still being made (the
/// pipeline runs this concurrently with voice conversion): its size and rate, how many
/// frames it has (as far as the scan read), and the detections of the frames a track needs.
/// No picture is kept, so a scan's memory does not grow with the video. The render uses it
/// when it covers the real speech length and scans again otherwise; tracking itself is
/// redone from the remembered detections, so the result is the same as without it.
public struct PreparedVideo: Sendable {
    public let video: String
    let rate: Rational
    /// Upright full-resolution size.
    let width: Int
    let height: Int
    /// Frames the scan decoded.
    let scannedFrames: Int
    /// The video has no frames beyond `scannedFrames`.
    let complete: Bool
    /// A still photo: its one frame.
    let photo: DecodedFrame?
    let detections: DetectionMemo
    let decodeSeconds: Double
    let trackSeconds: Double
    /// Detector calls the scan made (frames known to the memo before are not counted).
    public let detectorCalls: Int

    /// The number of source frames a render of `needed` output frames uses, when this scan
    /// read far enough and detected every key frame of that many; nil otherwise.
    func sourceCount(for needed: Int, tracker: FaceTracker) -> Int? {
        if photo != nil { return 1 }
        guard scannedFrames >= needed || complete else { return nil }
        let count = min(needed, scannedFrames)
        guard count > 0, tracker.keyFrames(count: count).allSatisfy({ detections.lookup($0) != nil }) else { return nil }
        return count
    }
}

/// The lip-sync stage: speech + a video of a face → the video with the mouth moving to the
/// speech, at the input's full resolution, with the speech as its audio track.
///
/// The render streams: the faces are tracked first from a scan that keeps only detections,
/// then the frames are decoded again one generator batch at a time — decode, crop, generate,
/// composite, encode — so at most one batch of full-resolution frames is held (its size is
/// bounded by `LipSyncOptions.frameMemoryBytes`). Frames the schedule shows again later (speech
/// longer than the video: ping-pong or loop) are spilled raw next to the output and read
/// back, never held.
public struct LipSyncRenderer: Sendable {
    public let melFrontEnd: MelFrontEnd
    public let generator: Wav2LipGenerator
    public let detector: any FaceDetector
    private let logger: Logger

    public init(
        melFrontEnd: MelFrontEnd, generator: Wav2LipGenerator, detector: any FaceDetector,
        logger: Logger = Logger(label: "lipsync.render")
    ) {
        self.melFrontEnd = melFrontEnd
        self.generator = generator
        self.detector = detector
        self.logger = logger
    }

    /// Scans the frames that speech of `expectedSpeechSamples` (16 kHz) will need, plus a
    /// small margin, detecting their faces into `options.detections` (or a new memo).
    /// Checks for cancellation on every frame.
    public func prepare(video: String, expectedSpeechSamples: Int, options: LipSyncOptions = LipSyncOptions()) throws -> PreparedVideo {
        try Self.prepare(
            video: video, expectedSpeechSamples: expectedSpeechSamples, options: options, melFrontEnd: melFrontEnd, detector: detector)
    }

    /// The render's checks of the speech alone (not empty, not longer than
    /// `options.maxSpeechSeconds`): cheap, so a caller can make them before scanning the video.
    public static func checkSpeech(_ speech: AudioBuffer, options: LipSyncOptions) throws {
        guard !speech.samples.isEmpty, speech.sampleRate > 0 else { throw LipSyncError.emptySpeech }
        guard speech.duration <= options.maxSpeechSeconds else {
            throw LipSyncError.speechTooLong(seconds: speech.duration, limit: options.maxSpeechSeconds)
        }
    }

    /// `prepare` without a renderer: what it needs is the mel front end and the detector, so
    /// a caller can scan the video while the generator is still loading (`lipsync sync`).
    /// `margin`: frames scanned beyond what the expected speech needs (3 when the speech
    /// length is a guess; 0 when it is the final speech).
    public static func prepare(
        video: String, expectedSpeechSamples: Int, options: LipSyncOptions = LipSyncOptions(), melFrontEnd: MelFrontEnd,
        detector: any FaceDetector, margin: Int = 3
    ) throws -> PreparedVideo {
        let (decoder, photo) = try open(video, options: options, forDetection: true)
        let rate = decoder?.video.averageFrameRate ?? Rational(25, 1)
        let melFrames = max(expectedSpeechSamples, melFrontEnd.minimumSamples) / 200 + 1  // 80 mel frames per second at 16 kHz
        let wanted = MelSpectrogram.chunkStarts(melFrames: melFrames, fps: rate.value).count
        return try scan(
            video: video, decoder: decoder, photo: photo, rate: rate, wanted: wanted, margin: max(0, margin), options: options,
            detector: detector)
    }

    /// Decodes detection copies of frames `0..<wanted + margin` (fewer if the video is
    /// shorter) and detects the faces a track of `wanted ± margin` frames needs: the key
    /// frames of every length, each frame that could be the last, and the video's real last
    /// frame when it ends first. Frame 0 comes first, so a video without a face fails at once.
    private static func scan(
        video: String, decoder: VideoDecoder?, photo: DecodedFrame?, rate: Rational, wanted: Int, margin: Int,
        options: LipSyncOptions, detector: any FaceDetector
    ) throws -> PreparedVideo {
        let clock = ContinuousClock()
        let start = clock.now
        var detecting = Duration.zero
        var calls = 0
        let memo = options.detections ?? DetectionMemo()
        let tracker = FaceTracker(detector: detector, options: options.tracking)
        func detect(_ image: Frame, scale: Double, index: Int) throws {
            guard memo.lookup(index) == nil, tracker.detects else { return }
            let started = clock.now
            memo.store(index, try tracker.detectFace(in: image, scale: scale, frame: index))
            detecting += clock.now - started
            calls += 1
        }
        if let photo {
            try detect(photo.detection ?? photo.frame, scale: photo.detection == nil ? 1 : photo.detectionScale, index: 0)
            return PreparedVideo(
                video: video, rate: rate, width: photo.frame.width, height: photo.frame.height, scannedFrames: 1,
                complete: true,
                photo: photo, detections: memo, decodeSeconds: (clock.now - start - detecting).seconds,
                trackSeconds: detecting.seconds, detectorCalls: calls)
        }
        guard let decoder else { throw LipSyncError.noFrames }
        let target = min(wanted + margin, options.limits.maxFrameCount)
        let lastCandidates = max(0, wanted - margin - 1)
        var last: DetectionFrame?
        var scanned = 0
        while scanned < target {
            try Task.checkCancellation()
            guard let frame = try decoder.nextDetection() else { break }
            scanned += 1
            if tracker.isKeyFrameOfAnyLength(frame.index) || (tracker.detectsLastFrame && frame.index >= lastCandidates) {
                try detect(frame.image, scale: frame.scale, index: frame.index)
            }
            last = frame
        }
        guard let last else { throw LipSyncError.noFrames }
        let complete = scanned < target
        if complete, tracker.detectsLastFrame { try detect(last.image, scale: last.scale, index: last.index) }
        return PreparedVideo(
            video: video, rate: rate, width: last.width, height: last.height, scannedFrames: scanned, complete: complete,
            photo: nil, detections: memo, decodeSeconds: (clock.now - start - detecting).seconds,
            trackSeconds: detecting.seconds, detectorCalls: calls)
    }

    /// A decoder for `video`, or its single frame when it is a still photo. Detection copies
    /// are made only `forDetection`.
    private static func open(_ video: String, options: LipSyncOptions, forDetection: Bool) throws -> (VideoDecoder?, DecodedFrame?) {
        // The render's frames keep the decoder's pictures: the encoder converts back only the face box.
        let decodeOptions = DecodeOptions(
            pixelFormat: .bgr24, detectionMaxSide: forDetection ? options.detectionMaxSide : nil, keepsCodedPicture: !forDetection)
        // A still photo is a one-frame video at the original's default --fps 25, face found once.
        do {
            return (try VideoDecoder(path: video, options: decodeOptions, limits: options.limits), nil)
        } catch MediaError.notAVideo {
            let stillOptions = DecodeOptions(pixelFormat: .bgr24, detectionMaxSide: options.detectionMaxSide)
            return (nil, try StillImage.decode(video, options: stillOptions, limits: options.limits))
        }
    }

    /// Renders `video` speaking `speech` into `output` (MP4, H.264 + AAC). `video` may also
    /// be a still photo (PNG, JPEG): one frame at 25 fps, as the original's image input.
    /// Honours task cancellation between frames; the output file appears only when complete.
    /// `prepared` (from `prepare`) saves the scan when it covers the speech.
    public func render(
        video: String, speech: AudioBuffer, output: String, options: LipSyncOptions = LipSyncOptions(),
        prepared: PreparedVideo? = nil
    ) async throws -> RenderedVideo {
        try Self.checkSpeech(speech, options: options)
        var timings = RenderTimings()
        let clock = ContinuousClock()
        let started = clock.now
        func measure<T>(_ keyPath: WritableKeyPath<RenderTimings, Double>, _ body: () throws -> T) rethrows -> T {
            let start = clock.now
            defer { timings[keyPath: keyPath] += (clock.now - start).seconds }
            return try body()
        }

        let mel = try measure(\.mel) { try melFrontEnd.spectrogram(of: speech) }
        let tracker = FaceTracker(detector: detector, options: options.tracking)
        var scanned: PreparedVideo
        var detectorCalls = 0
        if let prepared, prepared.video == video,
            let count = prepared.sourceCount(
                for: MelSpectrogram.chunkStarts(melFrames: mel.frames, fps: prepared.rate.value).count,
                tracker: tracker),
            count > 0
        {
            scanned = prepared
            timings.decode = prepared.decodeSeconds
            timings.track = prepared.trackSeconds
        } else {
            var scanOptions = options
            scanOptions.detections = prepared?.video == video ? prepared?.detections ?? options.detections : options.detections
            let (decoder, photo) = try Self.open(video, options: scanOptions, forDetection: true)
            let rate = decoder?.video.averageFrameRate ?? Rational(25, 1)
            let needed = MelSpectrogram.chunkStarts(melFrames: mel.frames, fps: rate.value).count
            scanned = try Self.scan(
                video: video, decoder: decoder, photo: photo, rate: rate, wanted: needed, margin: 0, options: scanOptions,
                detector: detector)
            timings.decode += scanned.decodeSeconds
            timings.track += scanned.trackSeconds
            detectorCalls = scanned.detectorCalls
        }
        let rate = scanned.rate
        let starts = MelSpectrogram.chunkStarts(melFrames: mel.frames, fps: rate.value)
        guard let count = scanned.sourceCount(for: starts.count, tracker: tracker) else { throw LipSyncError.noFrames }
        let schedule = FrameSchedule(outputCount: starts.count, sourceCount: count, order: options.frameOrder)
        let fullTrack = try measure(\.track) {
            try tracker.track(count: count, width: scanned.width, height: scanned.height, memo: scanned.detections)
        }
        let track = FaceTrack(boxes: fullTrack.boxes, detectedFrames: detectorCalls)
        try Task.checkCancellation()

        let (width, height) = (scanned.width, scanned.height)
        let writer = try MediaWriter(
            path: output, video: VideoFormat(width: width, height: height, frameRate: rate),
            audio: speech, options: options.encoder)
        let sources = try SourceFrames(
            video: video, photo: scanned.photo?.frame, schedule: schedule, spill: output + ".frames",
            options: options, open: { try Self.open(video, options: options, forDetection: false).0 })
        defer { sources.close() }
        let compositor = FaceCompositor(mode: options.composite)
        var crops: [Int: Frame] = [:]
        let overlapping = options.overlap ?? true
        let batch = options.framesPerBatch(width: width, height: height, overlapping: overlapping)
        let generator = generator

        /// A batch's full-resolution pictures and the generator's inputs for those with a face.
        struct Batch {
            var outputs: [Int]
            var pictures: [Frame]
            var withFace: [Int]
            var faces: [Frame]
            var mels: [[Float]]
        }
        func load(_ batchStart: Int) throws -> Batch {
            let outputs = Array(batchStart..<min(starts.count, batchStart + batch))
            let pictures = try measure(\.decode) { try outputs.map { try sources.frame(at: $0) } }
            let withFace = outputs.filter { track.boxes[schedule.sourceIndices[$0]] != nil }
            let faces = try measure(\.infer) {
                try withFace.map { i -> Frame in
                    let source = schedule.sourceIndices[i]
                    if let crop = crops[source] { return crop }
                    guard let box = track.boxes[source] else { throw LipSyncError.noFrames }  // filtered above
                    let crop = try generator.faceCrop(pictures[i - batchStart], box: box)
                    crops[source] = crop
                    return crop
                }
            }
            return Batch(
                outputs: outputs, pictures: pictures, withFace: withFace, faces: faces, mels: withFace.map { mel.chunk(at: starts[$0]) })
        }
        func infer(_ batch: Batch) throws -> [Frame] {
            try measure(\.infer) { try generator.generate(faces: batch.faces, mels: batch.mels) }
        }
        func emit(_ current: inout Batch, generated: [Frame]) throws {
            var generatedByOutput: [Int: Frame] = [:]
            for (i, face) in zip(current.withFace, generated) { generatedByOutput[i] = face }
            for (position, i) in current.outputs.enumerated() {
                let source = schedule.sourceIndices[i]
                if let box = track.boxes[source], let face = generatedByOutput[i] {
                    try measure(\.composite) { try compositor.composite(face, into: &current.pictures[position], box: box) }
                }
                try options.frameSink?(i, current.pictures[position])
                try measure(\.encode) { try writer.append(current.pictures[position]) }
            }
            options.progress?(RenderProgress(framesDone: (current.outputs.last ?? -1) + 1, framesTotal: starts.count))
        }

        options.progress?(RenderProgress(framesDone: 0, framesTotal: starts.count))
        /// Where the batch after `batch` starts; nil after the last.
        func following(_ batch: Batch) -> Int? {
            guard let last = batch.outputs.last, last + 1 < starts.count else { return nil }
            return last + 1
        }
        if overlapping {
            // Batch k + 1 is inferred on a thread of its own while batch k is composited and
            // encoded here and batch k + 2 is decoded and cropped (into k's buffers, which it
            // lets go first): the generator runs back to back instead of waiting for each
            // batch's decoding. At most two batches of frames are held, as without overlap.
            // The job's run termination is carried to the inference thread (a task-local does
            // not cross to a Dispatch thread): cancelling the job stops that run too.
            let termination = RunTermination.current
            func startInference(_ batch: Batch) -> Task<([Frame], Duration), any Error> {
                let (faces, mels) = (batch.faces, batch.mels)
                return Task {
                    try await Self.onOwnThread { () -> ([Frame], Duration) in
                        try RunTermination.$current.withValue(termination) {
                            let start = ContinuousClock.now
                            let frames = try generator.generate(faces: faces, mels: mels)
                            return (frames, ContinuousClock.now - start)
                        }
                    }
                }
            }
            var current = try load(0)  // the only holder of its frames: composited in place, no copies
            var inference: Task<([Frame], Duration), any Error>? = startInference(current)
            var next: Batch?
            while let running = inference {
                do {
                    if next == nil, let start = following(current) { next = try load(start) }
                    let (generated, took) = try await running.value
                    timings.infer += took.seconds
                    inference = next.map(startInference)
                    try Task.checkCancellation()
                    try emit(&current, generated: generated)
                    sources.recycle(current.pictures)
                    current = next ?? Batch(outputs: [], pictures: [], withFace: [], faces: [], mels: [])  // k's frames let go
                    next = nil
                } catch {
                    if let inference {
                        termination?.terminate()
                        _ = try? await inference.value
                    }
                    throw error
                }
            }
        } else {
            var current: Batch? = try load(0)
            while var batch = current {
                current = nil  // `batch` is the only holder of its frames: composited in place, no copies
                try Task.checkCancellation()
                try emit(&batch, generated: try infer(batch))
                sources.recycle(batch.pictures)  // the next batch is decoded into these buffers
                let start = following(batch)
                batch = Batch(outputs: [], pictures: [], withFace: [], faces: [], mels: [])
                current = try start.map(load)
            }
        }
        try measure(\.encode) { try writer.finish() }
        timings.total = (clock.now - started).seconds
        logger.info(
            "rendered \(starts.count) frames",
            metadata: [
                "output": "\(output)", "decoded": "\(count)", "detections": "\(track.detectedFrames)", "batch": "\(batch)",
                "spilled": "\(sources.spilledFrames)", "seconds": "\(String(format: "%.2f", timings.total))",
            ])
        return RenderedVideo(
            path: output, frames: starts.count, sourceFramesDecoded: count, width: width, height: height,
            frameRate: rate, track: track, timings: timings)
    }
}
