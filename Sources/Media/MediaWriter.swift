internal import CFFmpeg
import Foundation

/// Picture size and rate of the video a `MediaWriter` writes.
public struct VideoFormat: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Exact rate, e.g. 30000/1001; frames get timestamps 0, 1/rate, 2/rate…
    public var frameRate: Rational

    public init(width: Int, height: Int, frameRate: Rational) {
        self.width = width
        self.height = height
        self.frameRate = frameRate
    }
}

/// Container and codecs of written media. The defaults are what the server delivers:
/// MP4 with H.264 (libx264, yuv420p) and AAC, `+faststart`. The others (MOV, WebM with
/// VP9/Opus, M4A, MP3) exist for test fixtures and tools.
public struct EncoderOptions: Sendable, Equatable {
    public enum Container: String, Sendable {
        case mp4, mov, webm, matroska, m4a, mp3
        var muxerName: String { self == .m4a ? "ipod" : rawValue }
        var isQuickTime: Bool { self == .mp4 || self == .mov || self == .m4a }
    }

    public enum VideoCodec: String, Sendable {
        case h264, vp9
        var encoderName: String { self == .h264 ? "libx264" : "libvpx-vp9" }
    }

    public enum AudioCodec: String, Sendable {
        case aac, opus, mp3
        var encoderName: String {
            switch self {
            case .aac: "aac"
            case .opus: "libopus"
            case .mp3: "libmp3lame"
            }
        }
    }

    public var container: Container
    public var videoCodec: VideoCodec
    public var audioCodec: AudioCodec
    /// x264 preset (ultrafast … veryslow). Ignored for VP9 (realtime, cpu-used 8).
    public var preset: String
    /// x264's presets, fastest first.
    public static let x264Presets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"]
    /// Constant rate factor: 0–51 for x264 (lower is better; 18 is visually lossless), 0–63 for VP9.
    public var crf: Int
    public var audioBitRate: Int
    /// Clockwise rotation recorded as the stream's display matrix (0: none). The server
    /// writes upright frames and leaves this 0; tests use it to make phone-style files.
    public var displayRotation: Int

    public init(
        container: Container = .mp4, videoCodec: VideoCodec = .h264, audioCodec: AudioCodec = .aac,
        preset: String = "veryfast", crf: Int = 18, audioBitRate: Int = 128_000, displayRotation: Int = 0
    ) {
        self.container = container
        self.videoCodec = videoCodec
        self.audioCodec = audioCodec
        self.preset = preset
        self.crf = crf
        self.audioBitRate = audioBitRate
        self.displayRotation = displayRotation
    }
}

/// Encodes frames and one mono audio buffer into a media file through libavcodec and
/// libavformat. Output goes to a temporary sibling file that `finish()` renames into place;
/// if anything fails, or the writer is dropped unfinished, the temporary file is removed,
/// so no partial output is ever left at `path`.
///
/// Frames must match `VideoFormat`'s size; odd sizes are padded by one replicated
/// row/column (yuv420p needs even sizes, and H.264's cropping window moves in 2-pixel
/// steps in 4:2:0, so an odd size cannot be signalled exactly). Audio is interleaved with the video as frames
/// arrive.
public final class MediaWriter {
    public let path: String
    public let options: EncoderOptions
    private let temporaryPath: String
    private var output: UnsafeMutablePointer<AVFormatContext>?
    private var video: VideoTrack?
    private var audio: AudioTrack?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var state: State = .writing

    private enum State { case writing, finished, failed }

    public init(path: String, video format: VideoFormat?, audio buffer: AudioBuffer?, options: EncoderOptions = EncoderOptions()) throws {
        guard format != nil || buffer != nil else { throw MediaError.invalidArgument("nothing to write: no video and no audio") }
        self.path = path
        self.options = options
        self.temporaryPath = AtomicFile.temporaryPath(for: path)
        do {
            try open(format: format, audio: buffer)
        } catch {
            abandon()
            throw error
        }
    }

    deinit {
        if state == .writing { abandon() }
        releaseAll()
    }

    /// Encodes the next frame (timestamp = frames so far ÷ frame rate).
    public func append(_ frame: Frame) throws {
        guard state == .writing else {
            throw MediaError.invalidArgument("the writer is already \(state == .finished ? "finished" : "failed")")
        }
        guard let video else { throw MediaError.invalidArgument("this writer has no video track") }
        do {
            try video.encode(frame) { try write($0, stream: video.stream) }
            // Keep audio up to the video's time so the muxer can interleave without buffering.
            if let audio { try audio.encode(upTo: video.time) { try write($0, stream: audio.stream) } }
        } catch {
            abandon()
            throw error
        }
    }

    /// Encodes the rest of the audio, flushes the encoders, writes the trailer and moves
    /// the file into place.
    public func finish() throws {
        guard state == .writing else {
            throw MediaError.invalidArgument("the writer is already \(state == .finished ? "finished" : "failed")")
        }
        do {
            if let video, video.framesWritten == 0 { throw MediaError.invalidArgument("no frames were appended") }
            if let audio { try audio.encode(upTo: .infinity) { try write($0, stream: audio.stream) } }
            if let video { try video.flush { try write($0, stream: video.stream) } }
            if let audio { try audio.flush { try write($0, stream: audio.stream) } }
            guard let output else { throw MediaError.invalidArgument("the writer has no output") }
            try ffmpegCheck(av_write_trailer(output), "finishing \(path)")
            try ffmpegCheck(avio_closep(&output.pointee.pb), "closing \(path)")
            try AtomicFile.commit(temporaryPath, to: path)
            state = .finished
        } catch {
            abandon()
            throw error
        }
    }

    // MARK: - Set-up

    private func open(format: VideoFormat?, audio buffer: AudioBuffer?) throws {
        var context: UnsafeMutablePointer<AVFormatContext>?
        try ffmpegCheck(
            avformat_alloc_output_context2(&context, nil, options.container.muxerName, temporaryPath),
            "creating a \(options.container.rawValue) file")
        guard let context else { throw MediaError.invalidArgument("no \(options.container.rawValue) muxer") }
        output = context
        let globalHeader = (context.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER) != 0

        if let format {
            video = try VideoTrack(output: context, format: format, options: options, globalHeader: globalHeader)
        }
        if let buffer {
            audio = try AudioTrack(output: context, buffer: buffer, options: options, globalHeader: globalHeader)
        }
        packet = av_packet_alloc()
        guard packet != nil else { throw MediaError.ffmpeg(operation: "allocating a packet", code: -12, message: "out of memory") }

        // The file protocol only, and `file:` so a colon in the name is not read as a protocol.
        var ioOptions: OpaquePointer?
        defer { av_dict_free(&ioOptions) }
        av_dict_set(&ioOptions, "protocol_whitelist", "file", 0)
        try ffmpegCheck(avio_open2(&context.pointee.pb, "file:" + temporaryPath, AVIO_FLAG_WRITE, nil, &ioOptions), "creating \(path)")
        var muxerOptions: OpaquePointer?
        defer { av_dict_free(&muxerOptions) }
        if options.container.isQuickTime { av_dict_set(&muxerOptions, "movflags", "+faststart", 0) }
        try ffmpegCheck(avformat_write_header(context, &muxerOptions), "writing the \(options.container.rawValue) header")
    }

    private func write(_ encoder: UnsafeMutablePointer<AVCodecContext>, stream: UnsafeMutablePointer<AVStream>) throws {
        guard let packet, let output else { return }
        while true {
            let received = avcodec_receive_packet(encoder, packet)
            if received == AVErrorCode.tryAgain || received == AVErrorCode.endOfFile { return }
            try ffmpegCheck(received, "encoding")
            av_packet_rescale_ts(packet, encoder.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            try ffmpegCheck(av_interleaved_write_frame(output, packet), "writing \(path)")
        }
    }

    /// Drops everything written so far: closes the file and removes it.
    private func abandon() {
        state = .failed
        if let output, output.pointee.pb != nil { avio_closep(&output.pointee.pb) }
        unlink(temporaryPath)
    }

    private func releaseAll() {
        video = nil
        audio = nil
        av_packet_free(&packet)
        if let output {
            if output.pointee.pb != nil { avio_closep(&output.pointee.pb) }
            avformat_free_context(output)
            self.output = nil
        }
    }
}

/// Opens an encoder by name; throws `unsupportedCodec` when FFmpeg lacks it.
private func openEncoder(
    _ name: String, globalHeader: Bool, configure: (UnsafeMutablePointer<AVCodecContext>, UnsafePointer<AVCodec>) throws -> Void
) throws -> UnsafeMutablePointer<AVCodecContext> {
    guard let codec = avcodec_find_encoder_by_name(name) else { throw MediaError.unsupportedCodec("no \(name) encoder in this FFmpeg") }
    guard let context = avcodec_alloc_context3(codec) else {
        throw MediaError.ffmpeg(operation: "allocating the \(name) encoder", code: -12, message: "out of memory")
    }
    do {
        try configure(context, codec)
        if globalHeader { context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        try ffmpegCheck(avcodec_open2(context, codec, nil), "opening the \(name) encoder")
    } catch {
        var owned: UnsafeMutablePointer<AVCodecContext>? = context
        avcodec_free_context(&owned)
        throw error
    }
    return context
}

/// Adds a stream for an opened encoder.
private func addStream(_ output: UnsafeMutablePointer<AVFormatContext>, for encoder: UnsafeMutablePointer<AVCodecContext>) throws
    -> UnsafeMutablePointer<AVStream>
{
    guard let stream = avformat_new_stream(output, nil) else {
        throw MediaError.ffmpeg(operation: "adding a stream", code: -12, message: "out of memory")
    }
    try ffmpegCheck(avcodec_parameters_from_context(stream.pointee.codecpar, encoder), "describing the stream")
    stream.pointee.time_base = encoder.pointee.time_base
    return stream
}

/// H.264/VP9 encoding of packed frames converted to yuv420p.
final class VideoTrack {
    /// x264 settings that bound the frames it holds, for pictures larger than 1080p (nil for
    /// the rest, which keep the preset's own). By default x264 keeps a look-ahead of frames
    /// (10 at `veryfast`), a sync look-ahead of as many again and 1.5 frame threads per core,
    /// each a full picture and its quarter-size copy: at 4K that was ~300 MB of a job's peak.
    /// Measured (`lipsync clip`, 60 frames, 2 cores): 4K 956 → 649 MB peak RSS, 6.2 → 5.9 s,
    /// the file 4 % smaller at the same CRF (the rate control sees fewer frames ahead). 1080p
    /// keeps the defaults: the same settings there saved 87 MB but cost 0.5 s of 2.8.
    static func x264MemoryParameters(width: Int, height: Int) -> String? {
        width * height > 1920 * 1088 ? "rc-lookahead=5:sync-lookahead=0" : nil
    }

    let encoder: UnsafeMutablePointer<AVCodecContext>
    let stream: UnsafeMutablePointer<AVStream>
    let format: VideoFormat
    private var picture: UnsafeMutablePointer<AVFrame>?
    private var converter: ThreadedScaler?
    private let partial = ChangedRegionConverter()
    private(set) var framesWritten = 0

    init(output: UnsafeMutablePointer<AVFormatContext>, format: VideoFormat, options: EncoderOptions, globalHeader: Bool) throws {
        guard format.width > 0, format.height > 0, format.frameRate.numerator > 0, format.frameRate.denominator > 0 else {
            throw MediaError.invalidArgument("video format \(format.width)×\(format.height) at \(format.frameRate) fps")
        }
        self.format = format
        let (width, height) = (format.width + format.width % 2, format.height + format.height % 2)
        encoder = try openEncoder(options.videoCodec.encoderName, globalHeader: globalHeader) { context, _ in
            context.pointee.width = Int32(width)
            context.pointee.height = Int32(height)
            context.pointee.pix_fmt = AV_PIX_FMT_YUV420P
            context.pointee.time_base = AVRational(num: Int32(format.frameRate.denominator), den: Int32(format.frameRate.numerator))
            context.pointee.framerate = AVRational(num: Int32(format.frameRate.numerator), den: Int32(format.frameRate.denominator))
            let lean = VideoTrack.x264MemoryParameters(width: width, height: height)
            context.pointee.thread_count = Int32(lean == nil ? 0 : ProcessInfo.processInfo.activeProcessorCount)
            let settings: [(String, String)] =
                switch options.videoCodec {
                case .h264: [("preset", options.preset), ("crf", "\(options.crf)")] + (lean.map { [("x264-params", $0)] } ?? [])
                case .vp9: [("crf", "\(options.crf)"), ("b", "0"), ("deadline", "realtime"), ("cpu-used", "8"), ("row-mt", "1")]
                }
            for (key, value) in settings {
                let target = key == "b" ? UnsafeMutableRawPointer(context) : context.pointee.priv_data
                try ffmpegCheck(av_opt_set(target, key, value, 0), "setting \(key)=\(value) for \(options.videoCodec.rawValue)")
            }
        }
        do {
            stream = try addStream(output, for: encoder)
            stream.pointee.avg_frame_rate = encoder.pointee.framerate
            if options.displayRotation % 360 != 0 {
                guard let matrix = av_stream_new_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, 9 * 4) else {
                    throw MediaError.ffmpeg(operation: "adding the display matrix", code: -12, message: "out of memory")
                }
                matrix.withMemoryRebound(to: Int32.self, capacity: 9) {
                    // av_display_rotation_get(set(a)) == -a, and readers rotate clockwise by -get (as the ffmpeg CLI does).
                    av_display_rotation_set($0, Double(options.displayRotation))
                }
            }
            picture = try allocateYUV420Picture(width: width, height: height)
        } catch {
            var owned: UnsafeMutablePointer<AVCodecContext>? = encoder
            avcodec_free_context(&owned)
            av_frame_free(&picture)
            throw error
        }
    }

    deinit {
        var owned: UnsafeMutablePointer<AVCodecContext>? = encoder
        avcodec_free_context(&owned)
        av_frame_free(&picture)
    }

    /// Seconds of video written so far.
    var time: Double { Double(framesWritten) / format.frameRate.value }

    func encode(_ frame: Frame, drain: (UnsafeMutablePointer<AVCodecContext>) throws -> Void) throws {
        guard frame.width == format.width, frame.height == format.height else {
            throw MediaError.invalidArgument(
                "frame \(framesWritten) is \(frame.width)×\(frame.height), the video is \(format.width)×\(format.height)")
        }
        guard let picture else { return }
        if try partial.fill(picture, from: frame) {
            picture.pointee.pts = Int64(framesWritten)
            framesWritten += 1
            try ffmpegCheck(avcodec_send_frame(encoder, picture), "encoding frame \(framesWritten - 1)")
            try drain(encoder)
            return
        }
        let source = frame.paddedToEven()
        if converter.map({
            ($0.sourceWidth, $0.sourceHeight, $0.sourceFormat) != (source.width, source.height, source.pixelFormat.avPixelFormat)
        }) ?? true {
            converter = try ThreadedScaler(
                sourceWidth: source.width, sourceHeight: source.height, sourceFormat: source.pixelFormat.avPixelFormat,
                destinationWidth: Int(picture.pointee.width), destinationHeight: Int(picture.pointee.height),
                destinationFormat: AV_PIX_FMT_YUV420P, flags: SWS_BICUBIC | SWS_ACCURATE_RND,
                threads: min(ProcessInfo.processInfo.activeProcessorCount, 8))
        }
        guard let converter else { return }
        try ffmpegCheck(av_frame_make_writable(picture), "preparing a picture")
        // swscale reads whole 16-byte blocks, past the last row's end: a buffer without that
        // much spare capacity is converted from a padded copy (found by fuzzing; decoded
        // frames have the room, composited copies may not).
        var padded = source.pixels
        if padded.capacity - padded.count < PictureConverter.overrun { padded.reserveCapacity(padded.count + PictureConverter.overrun) }
        do {
            try padded.withUnsafeBufferPointer { pixels in try converter.scale(pixels, stride: source.stride, into: picture) }
        } catch MediaError.ffmpeg(_, let code, let message) {
            throw MediaError.ffmpeg(operation: "converting frame \(framesWritten) to yuv420p", code: code, message: message)
        }
        picture.pointee.pts = Int64(framesWritten)
        framesWritten += 1
        try ffmpegCheck(avcodec_send_frame(encoder, picture), "encoding frame \(framesWritten - 1)")
        try drain(encoder)
    }

    func flush(drain: (UnsafeMutablePointer<AVCodecContext>) throws -> Void) throws {
        try ffmpegCheck(avcodec_send_frame(encoder, nil), "flushing the video encoder")
        try drain(encoder)
    }
}

/// AAC/Opus encoding of one mono buffer, chunked to the encoder's frame size.
private final class AudioTrack {
    let encoder: UnsafeMutablePointer<AVCodecContext>
    let stream: UnsafeMutablePointer<AVStream>
    private let samples: [Float]
    private let sampleRate: Int
    private var position = 0
    private var chunk: UnsafeMutablePointer<AVFrame>?

    init(output: UnsafeMutablePointer<AVFormatContext>, buffer: AudioBuffer, options: EncoderOptions, globalHeader: Bool) throws {
        let name = options.audioCodec.encoderName
        guard let codec = avcodec_find_encoder_by_name(name) else { throw MediaError.unsupportedCodec("no \(name) encoder in this FFmpeg") }
        // Keep the buffer's rate when the encoder takes it; else the nearest higher rate it supports.
        let rate = Self.supportedRate(codec, preferring: buffer.sampleRate)
        let source = try AudioResampler.resample(buffer, to: rate)
        samples = source.samples
        sampleRate = rate
        let sampleFormat = Self.floatFormat(codec)
        encoder = try openEncoder(name, globalHeader: globalHeader) { context, _ in
            context.pointee.sample_fmt = sampleFormat
            context.pointee.sample_rate = Int32(rate)
            av_channel_layout_default(&context.pointee.ch_layout, 1)
            // AAC carries at most 6144 bits per channel per 1024-sample frame.
            context.pointee.bit_rate = Int64(min(options.audioBitRate, 6 * rate))
            context.pointee.time_base = AVRational(num: 1, den: Int32(rate))
        }
        do {
            stream = try addStream(output, for: encoder)
        } catch {
            var owned: UnsafeMutablePointer<AVCodecContext>? = encoder
            avcodec_free_context(&owned)
            throw error
        }
    }

    deinit {
        var owned: UnsafeMutablePointer<AVCodecContext>? = encoder
        avcodec_free_context(&owned)
        av_frame_free(&chunk)
    }

    /// Encodes whole encoder frames up to `time` seconds (all remaining audio for `.infinity`).
    func encode(upTo time: Double, drain: (UnsafeMutablePointer<AVCodecContext>) throws -> Void) throws {
        let end = time.isFinite ? min(samples.count, Int(time * Double(sampleRate))) : samples.count
        let frameSize = encoder.pointee.frame_size > 0 ? Int(encoder.pointee.frame_size) : 1024
        while position < end, time.isInfinite || position + frameSize <= end {
            let count = min(frameSize, samples.count - position)
            try send(count: count, frameSize: frameSize)
            try drain(encoder)
        }
    }

    func flush(drain: (UnsafeMutablePointer<AVCodecContext>) throws -> Void) throws {
        try ffmpegCheck(avcodec_send_frame(encoder, nil), "flushing the audio encoder")
        try drain(encoder)
    }

    private func send(count: Int, frameSize: Int) throws {
        av_frame_free(&chunk)
        chunk = av_frame_alloc()
        guard let chunk else { throw MediaError.ffmpeg(operation: "allocating audio", code: -12, message: "out of memory") }
        // Encoders with a fixed frame size need full frames: pad the last with silence.
        let variable = (encoder.pointee.codec.pointee.capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE) != 0
        let length = variable ? count : frameSize
        chunk.pointee.nb_samples = Int32(length)
        chunk.pointee.format = encoder.pointee.sample_fmt.rawValue
        chunk.pointee.sample_rate = encoder.pointee.sample_rate
        av_channel_layout_default(&chunk.pointee.ch_layout, 1)
        try ffmpegCheck(av_frame_get_buffer(chunk, 0), "allocating audio")
        guard let plane = chunk.pointee.data.0 else { return }
        let destination = UnsafeMutableRawPointer(plane).assumingMemoryBound(to: Float.self)
        samples.withUnsafeBufferPointer { source in
            for i in 0..<length { destination[i] = i < count ? source[position + i] : 0 }
        }
        chunk.pointee.pts = Int64(position)
        position += count
        try ffmpegCheck(avcodec_send_frame(encoder, chunk), "encoding audio")
    }

    private static func supportedRate(_ codec: UnsafePointer<AVCodec>, preferring rate: Int) -> Int {
        guard let list = codec.pointee.supported_samplerates else { return rate }
        var rates: [Int] = []
        var index = 0
        while list[index] != 0 {
            rates.append(Int(list[index]))
            index += 1
        }
        if rates.contains(rate) { return rate }
        return rates.filter { $0 > rate }.min() ?? rates.max() ?? rate
    }

    /// Mono float (planar and packed are the same layout for one channel).
    private static func floatFormat(_ codec: UnsafePointer<AVCodec>) -> AVSampleFormat {
        guard let list = codec.pointee.sample_fmts else { return AV_SAMPLE_FMT_FLTP }
        var index = 0
        while list[index] != AV_SAMPLE_FMT_NONE {
            if list[index] == AV_SAMPLE_FMT_FLTP || list[index] == AV_SAMPLE_FMT_FLT { return list[index] }
            index += 1
        }
        return AV_SAMPLE_FMT_FLTP
    }
}

extension Frame {
    /// The frame with one replicated column and/or row added where width/height is odd.
    func paddedToEven() -> Frame {
        guard width % 2 == 1 || height % 2 == 1 else { return self }
        let (outWidth, outHeight) = (width + width % 2, height + height % 2)
        let outStride = outWidth * 3
        var output = [UInt8](repeating: 0, count: outStride * outHeight)
        for y in 0..<outHeight {
            let sourceRow = min(y, height - 1) * stride
            let row = y * outStride
            output.replaceSubrange(row..<(row + width * 3), with: pixels[sourceRow..<(sourceRow + width * 3)])
            if outWidth > width {
                let last = sourceRow + (width - 1) * 3
                output.replaceSubrange((row + width * 3)..<(row + outStride), with: pixels[last..<(last + 3)])
            }
        }
        return Frame(unchecked: outWidth, outHeight, outStride, pixelFormat, presentationTime, output)
    }
}

/// Fills an encoder's yuv420p picture from a frame that kept its decoder's picture
/// (`Frame.coded`): the decoded planes copied as they are, then only the rectangle the frame
/// changed (`Frame.changed`, widened to whole chroma samples and a margin) converted from its
/// BGR pixels with the same swscale filters as a whole-frame conversion. Outside that rectangle
/// the encoder gets the decoder's own values (a whole-frame conversion gives them back only to
/// within a level or two); inside, what the whole-frame conversion gives, to within a level
/// where the filters reach past the rectangle (ChangedRegionTests). For the render's face box at
/// 1080p that replaces a 6 ms conversion with a copy.
final class ChangedRegionConverter {
    private var context: OpaquePointer?
    private var scratch: [UInt8] = []

    /// Rows and columns converted beyond the changed rectangle: swscale's bicubic chroma filter
    /// reads 2–3 pixels on each side, so changed pixels reach the chroma samples next to them.
    static let margin = 4
    /// The converted rectangle's corners are rounded out to multiples of this (even, for whole
    /// chroma samples; larger, so a moving face box rarely needs a new swscale context).
    static let alignment = 16

    deinit { sws_freeContext(context) }

    /// Fills `picture` (yuv420p, writable once made so) from `frame` when it can: the frame keeps
    /// a yuv420p picture of its own size, and that size is the encoder's. False: it cannot, and
    /// `picture` is untouched.
    func fill(_ picture: UnsafeMutablePointer<AVFrame>, from frame: Frame) throws -> Bool {
        guard let coded = frame.coded, coded.isYUV420P, frame.pixelFormat == .bgr24,
            coded.width == frame.width, coded.height == frame.height,
            Int(picture.pointee.width) == frame.width, Int(picture.pointee.height) == frame.height,
            picture.pointee.format == AV_PIX_FMT_YUV420P.rawValue
        else { return false }
        try ffmpegCheck(av_frame_make_writable(picture), "preparing a picture")
        try ffmpegCheck(av_frame_copy(picture, coded.picture), "copying a decoded picture")
        if let changed = frame.changed {
            try convert(Self.region(around: changed, width: frame.width, height: frame.height), of: frame, into: picture)
        }
        return true
    }

    /// `changed` widened by `margin`, its corners rounded out to `alignment` and clipped to the
    /// (even) picture size.
    static func region(around changed: PixelRect, width: Int, height: Int) -> PixelRect {
        func down(_ value: Int) -> Int { max(0, (value - margin) / alignment * alignment) }
        func up(_ value: Int, _ limit: Int) -> Int { min(limit, (value + margin + alignment - 1) / alignment * alignment) }
        let (x0, y0) = (down(changed.x), down(changed.y))
        return PixelRect(x: x0, y: y0, width: up(changed.maxX, width) - x0, height: up(changed.maxY, height) - y0)
    }

    private func convert(_ rect: PixelRect, of frame: Frame, into picture: UnsafeMutablePointer<AVFrame>) throws {
        let (width, height) = (rect.width, rect.height)
        guard width > 1, height > 1, rect.x % 2 == 0, rect.y % 2 == 0, width % 2 == 0, height % 2 == 0 else {
            throw MediaError.invalidArgument("changed region \(width)×\(height) at (\(rect.x), \(rect.y)) is not whole chroma samples")
        }
        context = sws_getCachedContext(
            context, Int32(width), Int32(height), AV_PIX_FMT_BGR24, Int32(width), Int32(height), AV_PIX_FMT_YUV420P,
            SWS_BICUBIC | SWS_ACCURATE_RND, nil, nil, nil)
        guard let context else { throw MediaError.unsupportedCodec("cannot convert a \(width)×\(height) region to yuv420p") }
        // Scratch planes with rows 64-byte aligned and spare bytes after each plane: swscale's
        // SIMD writers store whole blocks past a row's end.
        let lumaStride = (width + 63) / 64 * 64
        let chromaStride = (width / 2 + 63) / 64 * 64
        let lumaBytes = lumaStride * height + 64
        let chromaBytes = chromaStride * (height / 2) + 64
        if scratch.count < lumaBytes + 2 * chromaBytes { scratch = [UInt8](repeating: 0, count: lumaBytes + 2 * chromaBytes) }
        // swscale also reads whole blocks past the last source row's end; a frame without
        // `PictureConverter.overrun` spare bytes there is read from a padded copy.
        var pixels = frame.pixels
        if rect.maxY == frame.height, pixels.capacity - pixels.count < PictureConverter.overrun {
            pixels.reserveCapacity(pixels.count + PictureConverter.overrun)
        }
        let rows = pixels.withUnsafeBufferPointer { source in
            scratch.withUnsafeMutableBufferPointer { planes in
                let base = planes.baseAddress!
                let sourceData: [UnsafePointer<UInt8>?] = [source.baseAddress! + rect.y * frame.stride + rect.x * 3, nil, nil, nil]
                let sourceStrides: [Int32] = [Int32(frame.stride), 0, 0, 0]
                let destination: [UnsafeMutablePointer<UInt8>?] = [base, base + lumaBytes, base + lumaBytes + chromaBytes, nil]
                let destinationStrides: [Int32] = [Int32(lumaStride), Int32(chromaStride), Int32(chromaStride), 0]
                return sws_scale(context, sourceData, sourceStrides, 0, Int32(height), destination, destinationStrides)
            }
        }
        guard rows == Int32(height) else {
            throw MediaError.ffmpeg(
                operation: "converting a changed region", code: rows, message: rows < 0 ? ffmpegMessage(rows) : "short conversion")
        }
        scratch.withUnsafeBufferPointer { planes in
            let base = planes.baseAddress!
            let layout = [
                (base, lumaStride, rect.x, rect.y, width, height),
                (base + lumaBytes, chromaStride, rect.x / 2, rect.y / 2, width / 2, height / 2),
                (base + lumaBytes + chromaBytes, chromaStride, rect.x / 2, rect.y / 2, width / 2, height / 2),
            ]
            for (plane, (from, fromStride, x, y, planeWidth, planeHeight)) in layout.enumerated() {
                let data = withUnsafeBytes(of: picture.pointee.data) { $0.bindMemory(to: UnsafeMutablePointer<UInt8>?.self)[plane] }
                let stride = withUnsafeBytes(of: picture.pointee.linesize) { Int($0.bindMemory(to: Int32.self)[plane]) }
                guard let data else { continue }
                for row in 0..<planeHeight {
                    (data + (y + row) * stride + x).update(from: from + row * fromStride, count: planeWidth)
                }
            }
        }
    }
}

extension ChangedRegionConverter {
    /// What `fill` gives an encoder for `frame`, as `packedYUV420Planes`; nil when the frame
    /// cannot be filled this way: how the tests compare it with a whole-frame conversion.
    static func yuv420Planes(of frame: Frame) throws -> [UInt8]? {
        try withYUV420Picture(width: frame.width, height: frame.height) { picture in
            try ChangedRegionConverter().fill(picture, from: frame) ? packedYUV420Planes(picture) : nil
        }
    }
}
