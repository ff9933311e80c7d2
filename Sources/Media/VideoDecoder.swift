internal import CFFmpeg

/// One decoded video frame at full resolution, upright, with an optional downscaled copy
/// for face detection.
public struct DecodedFrame: Sendable {
    /// Position in decode order, from 0.
    public let index: Int
    public let frame: Frame
    /// The picture scaled so its longer side is at most `DecodeOptions.detectionMaxSide`.
    public let detection: Frame?
    /// `detection` size ÷ full size (1 when not scaled down). Full-resolution coordinates
    /// are detection coordinates divided by this.
    public let detectionScale: Double

    public init(index: Int, frame: Frame, detection: Frame?, detectionScale: Double) {
        self.index = index
        self.frame = frame
        self.detection = detection
        self.detectionScale = detectionScale
    }
}

/// A decoded frame's downscaled copy only (no full-resolution picture is made): what face
/// detection needs, at a fraction of the memory and conversion time.
public struct DetectionFrame: Sendable {
    /// Position in decode order, from 0.
    public let index: Int
    /// The upright full-resolution size.
    public let width: Int
    public let height: Int
    /// The picture scaled so its longer side is at most `DecodeOptions.detectionMaxSide`;
    /// without one, the full picture exactly as `next()` makes it.
    public let image: Frame
    /// `image` size ÷ full size.
    public let scale: Double
}

/// How frames come out of a `VideoDecoder`.
public struct DecodeOptions: Sendable, Equatable {
    public var pixelFormat: PixelFormat
    /// Also produce a copy whose longer side is at most this many pixels (nil: none).
    public var detectionMaxSide: Int?
    public var detectionPixelFormat: PixelFormat
    /// Keep a reference to the decoder's picture in each full frame (`Frame.coded`) when it is
    /// yuv420p and upright, so an encoder of the same size copies the unchanged parts from it
    /// instead of converting the frame back (the render: exact, and at 1080p a conversion of
    /// 6 ms a frame becomes a copy of the face box's). Costs the decoder's picture (1.5 bytes a
    /// pixel) for as long as the frame is held.
    public var keepsCodedPicture: Bool

    public init(
        pixelFormat: PixelFormat = .bgr24, detectionMaxSide: Int? = nil, detectionPixelFormat: PixelFormat = .rgb24,
        keepsCodedPicture: Bool = false
    ) {
        self.pixelFormat = pixelFormat
        self.detectionMaxSide = detectionMaxSide
        self.detectionPixelFormat = detectionPixelFormat
        self.keepsCodedPicture = keepsCodedPicture
    }
}

/// Decodes a file's video stream frame by frame (libavcodec, threaded), rotating each
/// picture upright. Read only as many frames as needed with `next()` or `frames(upTo:)`;
/// decoding stops there. One decoder serves one task at a time.
public final class VideoDecoder {
    public let info: VideoInfo
    public let video: VideoStreamInfo
    public let options: DecodeOptions

    private let input: InputFile
    private let streamIndex: Int32
    private let timeBase: AVRational
    private let startTime: Int64
    private let limits: MediaLimits
    private var decoder: UnsafeMutablePointer<AVCodecContext>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var picture: UnsafeMutablePointer<AVFrame>?
    private let fullConverter = PictureConverter(flags: SWS_BICUBIC)
    private let detectionConverter = PictureConverter(flags: SWS_AREA)
    private var demuxerFinished = false
    private var decoderFinished = false
    private var decodedCount = 0

    public convenience init(path: String, options: DecodeOptions = DecodeOptions(), limits: MediaLimits = MediaLimits()) throws {
        try self.init(input: InputFile(path: path, limits: limits), options: options, limits: limits)
    }

    init(input: InputFile, options: DecodeOptions, limits: MediaLimits) throws {
        let info = try MediaProbe.describe(input, limits: limits)
        let video = try info.requireVideo()
        guard let index = input.bestStream(AVMEDIA_TYPE_VIDEO) else { throw MediaError.noVideoStream }
        let stream = input.stream(index)
        self.input = input
        self.info = info
        self.video = video
        self.options = options
        self.limits = limits
        self.streamIndex = index
        self.timeBase = stream.pointee.time_base
        self.startTime = stream.pointee.start_time == Int64.min ? 0 : stream.pointee.start_time
        self.decoder = try input.openDecoder(for: stream)
        self.packet = av_packet_alloc()
        self.picture = av_frame_alloc()
        guard packet != nil, picture != nil else {
            throw MediaError.ffmpeg(operation: "allocating decode buffers", code: -12, message: "out of memory")
        }
    }

    deinit {
        avcodec_free_context(&decoder)
        av_packet_free(&packet)
        av_frame_free(&picture)
    }

    /// Frames decoded so far.
    public var framesDecoded: Int { decodedCount }

    /// Buffers handed back and not yet reused.
    var recycledBuffers: Int { fullConverter.spareCount }

    /// Hands back frames from `next()` that their holder is done with: later frames are
    /// decoded into their buffers instead of newly allocated ones (same pictures; a buffer
    /// still held elsewhere is copied first, never changed under its holder). At most
    /// `limit` buffers are kept (the frames the caller will still decode: a buffer no decode
    /// takes would only hold memory).
    public func recycle(_ frames: [Frame], limit: Int = .max) {
        for frame in frames { fullConverter.recycle(frame.pixels, limit: limit) }
    }

    /// The next frame, or nil after the last. Throws `MediaError.zeroFrames` when the
    /// stream ends before any frame, `.truncated` when it ends before the frame count the
    /// container recorded, `.corrupt` for undecodable data.
    public func next() throws -> DecodedFrame? {
        try receive { try deliver($0) }
    }

    /// The next frame's detection copy only (see `DetectionFrame`), or nil after the last.
    public func nextDetection() throws -> DetectionFrame? {
        try receive { picture in
            let index = try count()
            let (width, height) = (Int(picture.pointee.width), Int(picture.pointee.height))
            // Without a detection size, detection sees the full picture, made as `next()` makes it.
            let (image, scale) =
                if let maxSide = options.detectionMaxSide, maxSide > 0 {
                    try detectionCopy(picture, index: index, maxSide: maxSide)
                } else {
                    (
                        try fullConverter.convert(
                            picture, width: width, height: height, format: options.pixelFormat,
                            time: time(of: picture, index: index)
                        )
                        .rotated(clockwise: video.rotation), 1.0
                    )
                }
            let upright = video.rotation % 180 == 0 ? (width, height) : (height, width)
            return DetectionFrame(index: index, width: upright.0, height: upright.1, image: image, scale: scale)
        }
    }

    /// Decodes the next picture and hands it to `convert` (it is released afterwards).
    private func receive<T>(_ convert: (UnsafeMutablePointer<AVFrame>) throws -> T) throws -> T? {
        guard let decoder, let packet, let picture, !decoderFinished else { return nil }
        while true {
            let received = avcodec_receive_frame(decoder, picture)
            if received >= 0 {
                defer { av_frame_unref(picture) }
                return try convert(picture)
            }
            if received == AVErrorCode.endOfFile {
                decoderFinished = true
                try checkEnd()
                return nil
            }
            guard received == AVErrorCode.tryAgain else {
                throw MediaError.corrupt("frame \(decodedCount) cannot be decoded: \(ffmpegMessage(received))")
            }
            guard !demuxerFinished else {
                throw MediaError.corrupt("the decoder stalled after frame \(decodedCount)")
            }
            let read = av_read_frame(input.context, packet)
            if read == AVErrorCode.endOfFile {
                demuxerFinished = true
                _ = avcodec_send_packet(decoder, nil)  // drain the frames the decoder holds
                continue
            }
            guard read >= 0 else {
                if Task.isCancelled { throw CancellationError() }  // the interrupt callback stopped the read
                throw MediaError.truncated("reading stopped after frame \(decodedCount): \(ffmpegMessage(read))")
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            let sent = avcodec_send_packet(decoder, packet)
            if sent < 0, sent != AVErrorCode.tryAgain {
                throw MediaError.corrupt("video packet after frame \(decodedCount) cannot be decoded: \(ffmpegMessage(sent))")
            }
        }
    }

    /// Frames `0..<count` (fewer if the video is shorter). Decoding stops at `count`.
    public func frames(upTo count: Int) throws -> [DecodedFrame] {
        var frames: [DecodedFrame] = []
        frames.reserveCapacity(min(count, video.frameCount ?? 0, limits.maxFrameCount))
        while frames.count < count, let frame = try next() { frames.append(frame) }
        return frames
    }

    /// Every frame of the video.
    public func allFrames() throws -> [DecodedFrame] {
        try frames(upTo: Int.max)
    }

    /// Counts a decoded picture against the frame limit; returns its index.
    private func count() throws -> Int {
        let index = decodedCount
        decodedCount += 1
        guard decodedCount <= limits.maxFrameCount else {
            throw MediaError.tooManyFrames(count: decodedCount, limit: limits.maxFrameCount)
        }
        return index
    }

    private func time(of picture: UnsafeMutablePointer<AVFrame>, index: Int) -> Double {
        let timestamp = picture.pointee.best_effort_timestamp
        return timestamp == Int64.min
            ? Double(index) / video.averageFrameRate.value
            : Double(timestamp - startTime) * timeBase.doubleValue
    }

    /// The upright copy whose longer side is at most `maxSide`, and its scale.
    private func detectionCopy(_ picture: UnsafeMutablePointer<AVFrame>, index: Int, maxSide: Int) throws -> (Frame, Double) {
        let (width, height) = (Int(picture.pointee.width), Int(picture.pointee.height))
        let scale = min(1, Double(maxSide) / Double(max(width, height)))
        let scaledWidth = max(1, Int((Double(width) * scale).rounded()))
        let scaledHeight = max(1, Int((Double(height) * scale).rounded()))
        let image = try detectionConverter.convert(
            picture, width: scaledWidth, height: scaledHeight, format: options.detectionPixelFormat, time: time(of: picture, index: index))
        return (image.rotated(clockwise: video.rotation), scale)
    }

    private func deliver(_ picture: UnsafeMutablePointer<AVFrame>) throws -> DecodedFrame {
        let index = try count()
        let (width, height) = (Int(picture.pointee.width), Int(picture.pointee.height))
        var full = try fullConverter.convert(
            picture, width: width, height: height, format: options.pixelFormat,
            time: time(of: picture, index: index)
        )
        .rotated(clockwise: video.rotation)
        if options.keepsCodedPicture, video.rotation % 360 == 0, picture.pointee.format == AV_PIX_FMT_YUV420P.rawValue {
            full.coded = CodedPicture(referencing: picture)
        }

        var detection: Frame?
        var scale = 1.0
        if let maxSide = options.detectionMaxSide, maxSide > 0 {
            (detection, scale) = try detectionCopy(picture, index: index, maxSide: maxSide)
        }
        return DecodedFrame(index: index, frame: full, detection: detection, detectionScale: scale)
    }

    private func checkEnd() throws {
        if decodedCount == 0 { throw MediaError.zeroFrames }
        if let expected = video.frameCount, decodedCount < expected {
            throw MediaError.truncated("only \(decodedCount) of the \(expected) frames the container lists could be decoded")
        }
    }
}

/// Still pictures (PNG, JPEG…) decoded like a one-frame video: for face photos and tests.
public enum StillImage {
    public static func decode(_ path: String, options: DecodeOptions = DecodeOptions(), limits: MediaLimits = MediaLimits()) throws
        -> DecodedFrame
    {
        let decoder = try VideoDecoder(
            input: InputFile(path: path, limits: limits, acceptStillImages: true), options: options, limits: limits)
        guard let frame = try decoder.next() else { throw MediaError.zeroFrames }
        return frame
    }
}
