internal import CFFmpeg

/// Converts decoded pictures (any FFmpeg pixel format, any size) to packed 8-bit frames
/// with libswscale. Keeps one cached SwsContext; not for concurrent use.
final class PictureConverter {
    private var context: OpaquePointer?
    private let flags: Int32

    /// `flags`: SWS_BICUBIC for same-size conversion — what OpenCV's FFmpeg reader uses to
    /// make BGR24, so frames match the original system's; SWS_AREA for downscaling
    /// (averages, so small faces keep their shape).
    init(flags: Int32) {
        self.flags = flags
    }

    deinit {
        sws_freeContext(context)
    }

    /// Converts `source` to `width`×`height` packed `format`, tightly packed rows.
    func convert(_ source: UnsafeMutablePointer<AVFrame>, width: Int, height: Int, format: PixelFormat, time: Double) throws -> Frame {
        let sourceFormat = AVPixelFormat(rawValue: source.pointee.format)
        context = sws_getCachedContext(
            context, source.pointee.width, source.pointee.height, sourceFormat,
            Int32(width), Int32(height), AV_PIX_FMT_BGR24, flags, nil, nil, nil)
        guard let context else {
            throw MediaError.unsupportedCodec("cannot convert pixel format \(Self.name(sourceFormat)) to \(format.rawValue)")
        }
        let stride = width * 3
        let sourceData = withUnsafeBytes(of: source.pointee.data) { Array($0.bindMemory(to: UnsafePointer<UInt8>?.self)) }
        let sourceStrides = withUnsafeBytes(of: source.pointee.linesize) { Array($0.bindMemory(to: Int32.self)) }
        var rows: Int32 = 0
        // swscale writes every byte of the destination, so skip zero-filling it. Its SIMD
        // packers store whole 16-byte blocks and run past the last row's end on small pictures
        // (8×8 and 6×4 yuv420p → BGR24 write 16 bytes beyond; found by fuzz/, docs/fuzzing.md):
        // the buffer gets spare capacity after the frame's bytes for them.
        let count = stride * height
        func scale(into base: UnsafeMutablePointer<UInt8>?) -> Int32 {
            let destination: [UnsafeMutablePointer<UInt8>?] = [base, nil, nil, nil]
            let destinationStrides: [Int32] = [Int32(stride), 0, 0, 0]
            return sws_scale(context, sourceData, sourceStrides, 0, source.pointee.height, destination, destinationStrides)
        }
        var pixels: [UInt8]
        if let index = spare.firstIndex(where: { $0.count == count }) {
            pixels = spare.remove(at: index)
            // Unique (a buffer someone still holds is copied here, never written under them)
            // and with the room for swscale's overrun.
            pixels.reserveCapacity(count + Self.overrun)
            rows = pixels.withUnsafeMutableBufferPointer { scale(into: $0.baseAddress) }
        } else {
            pixels = [UInt8](unsafeUninitializedCapacity: count + Self.overrun) { buffer, initialized in
                rows = scale(into: buffer.baseAddress)
                initialized = rows == Int32(height) ? count : 0
            }
        }
        guard rows == Int32(height) else {
            throw MediaError.ffmpeg(
                operation: "converting a picture", code: rows, message: rows < 0 ? ffmpegMessage(rows) : "short conversion")
        }
        if format == .rgb24 { Self.swapRedAndBlue(&pixels) }
        return Frame(unchecked: width, height, stride, format, time, pixels)
    }

    /// Pixel buffers of earlier frames handed back by `recycle`, written over by the next
    /// conversions of the same size instead of fresh ones.
    private var spare: [[UInt8]] = []
    /// The most buffers kept for reuse (a generator batch's worth at 1080p).
    static let maxSpare = 16

    /// Buffers kept for reuse now.
    var spareCount: Int { spare.count }

    /// Hands back the pixels of a frame its holder is done with, for a later `convert` of the
    /// same size; at most `limit` (and `maxSpare`) are kept. A 1080p frame is 6.2 MB:
    /// allocated fresh, each is mapped and faulted in page by page (1 MiB and larger blocks
    /// come from their own mappings, ProcessSetup) — the word case's decode took 0.31 s with
    /// fresh buffers, 0.22 s with recycled ones. A buffer still held elsewhere is copied, not
    /// overwritten, when reused.
    func recycle(_ pixels: [UInt8], limit: Int = maxSpare) {
        guard spare.count < min(limit, Self.maxSpare), pixels.count > 0 else { return }
        spare.append(pixels)
    }

    /// Bytes swscale may write after the destination's last row (AV_INPUT_BUFFER_PADDING_SIZE:
    /// FFmpeg's own bound on SIMD over-reads and over-writes).
    static let overrun = 64

    /// swscale's RGB24 and BGR24 outputs take different code paths and can differ by a few
    /// levels; converting to BGR24 once and swapping keeps both orders the same pixels.
    static func swapRedAndBlue(_ pixels: inout [UInt8]) {
        pixels.withUnsafeMutableBufferPointer { buffer in
            var index = 0
            while index + 2 < buffer.count {
                buffer.swapAt(index, index + 2)
                index += 3
            }
        }
    }

    static func name(_ format: AVPixelFormat) -> String {
        av_get_pix_fmt_name(format).map { String(cString: $0) } ?? "unknown"
    }
}

extension PixelFormat {
    var avPixelFormat: AVPixelFormat {
        switch self {
        case .bgr24: AV_PIX_FMT_BGR24
        case .rgb24: AV_PIX_FMT_RGB24
        }
    }
}

/// One fixed-geometry swscale conversion run on slice threads (swscale's `threads` option
/// with `sws_scale_frame`, FFmpeg ≥ 5.0): each thread writes its own band of output rows with
/// the same filters over the whole source, so the result is the single-threaded conversion's,
/// bit for bit (tested in MediaWriterTests). The encoder's BGR → yuv420p conversion with
/// `SWS_ACCURATE_RND` is 6 ms a 1080p frame on one thread; on 2 cores, beside x264's own
/// threads, the word case's encode went 0.58 → 0.51–0.54 s.
final class ThreadedScaler {
    private var context: OpaquePointer?
    private var source: UnsafeMutablePointer<AVFrame>?
    let sourceWidth: Int
    let sourceHeight: Int
    let sourceFormat: AVPixelFormat

    init(
        sourceWidth: Int, sourceHeight: Int, sourceFormat: AVPixelFormat, destinationWidth: Int, destinationHeight: Int,
        destinationFormat: AVPixelFormat, flags: Int32, threads: Int
    ) throws {
        self.sourceWidth = sourceWidth
        self.sourceHeight = sourceHeight
        self.sourceFormat = sourceFormat
        context = sws_alloc_context()
        source = av_frame_alloc()
        guard let context, source != nil else {
            throw MediaError.ffmpeg(operation: "allocating a conversion", code: -12, message: "out of memory")
        }
        let settings: [(String, Int64)] = [
            ("srcw", Int64(sourceWidth)), ("srch", Int64(sourceHeight)), ("src_format", Int64(sourceFormat.rawValue)),
            ("dstw", Int64(destinationWidth)), ("dsth", Int64(destinationHeight)),
            ("dst_format", Int64(destinationFormat.rawValue)), ("sws_flags", Int64(flags)), ("threads", Int64(threads)),
        ]
        for (key, value) in settings {
            try ffmpegCheck(av_opt_set_int(UnsafeMutableRawPointer(context), key, value, 0), "setting \(key) for a conversion")
        }
        try ffmpegCheck(sws_init_context(context, nil, nil), "preparing a conversion")
    }

    deinit {
        sws_freeContext(context)
        av_frame_free(&source)
    }

    /// Converts packed `pixels` (`stride` bytes a row, the geometry given at init; swscale may
    /// read up to `PictureConverter.overrun` bytes past the last row) into `destination`'s
    /// buffers, which must be allocated and writable.
    func scale(_ pixels: UnsafeBufferPointer<UInt8>, stride: Int, into destination: UnsafeMutablePointer<AVFrame>) throws {
        guard let context, let source, let base = pixels.baseAddress else { return }
        source.pointee.format = sourceFormat.rawValue
        source.pointee.width = Int32(sourceWidth)
        source.pointee.height = Int32(sourceHeight)
        source.pointee.linesize.0 = Int32(stride)
        let data = UnsafeMutablePointer(mutating: base)
        source.pointee.data.0 = data
        // A reference to the caller's bytes (freed by nobody), so swscale takes the picture
        // without copying it; swscale drops it before sws_scale_frame returns.
        source.pointee.buf.0 = av_buffer_create(data, pixels.count, { _, _ in }, nil, Int32(AV_BUFFER_FLAG_READONLY))
        defer { av_frame_unref(source) }
        guard source.pointee.buf.0 != nil else {
            throw MediaError.ffmpeg(operation: "wrapping a picture", code: -12, message: "out of memory")
        }
        try ffmpegCheck(sws_scale_frame(context, destination, source), "converting a picture")
    }
}

extension ThreadedScaler {
    /// `frame` (width and height even) converted to yuv420p on `threads` slice threads, the
    /// three planes' rows one after another: how the tests compare thread counts.
    static func yuv420Planes(of frame: Frame, threads: Int) throws -> [UInt8] {
        try withYUV420Picture(width: frame.width, height: frame.height) { picture in
            let scaler = try ThreadedScaler(
                sourceWidth: frame.width, sourceHeight: frame.height, sourceFormat: frame.pixelFormat.avPixelFormat,
                destinationWidth: frame.width, destinationHeight: frame.height, destinationFormat: AV_PIX_FMT_YUV420P,
                flags: SWS_BICUBIC | SWS_ACCURATE_RND, threads: threads)
            var padded = frame.pixels
            padded.reserveCapacity(padded.count + PictureConverter.overrun)
            try padded.withUnsafeBufferPointer { try scaler.scale($0, stride: frame.stride, into: picture) }
            return packedYUV420Planes(picture)
        }
    }
}

/// Runs `body` on a new yuv420p picture, freed when it returns.
func withYUV420Picture<T>(width: Int, height: Int, _ body: (UnsafeMutablePointer<AVFrame>) throws -> T) throws -> T {
    let picture = try allocateYUV420Picture(width: width, height: height)
    var owned: UnsafeMutablePointer<AVFrame>? = picture
    defer { av_frame_free(&owned) }
    return try body(picture)
}

/// A new yuv420p picture with its buffers (the caller frees it with `av_frame_free`).
func allocateYUV420Picture(width: Int, height: Int) throws -> UnsafeMutablePointer<AVFrame> {
    var picture = av_frame_alloc()
    guard let allocated = picture else { throw MediaError.ffmpeg(operation: "allocating a picture", code: -12, message: "out of memory") }
    allocated.pointee.format = AV_PIX_FMT_YUV420P.rawValue
    allocated.pointee.width = Int32(width)
    allocated.pointee.height = Int32(height)
    do {
        try ffmpegCheck(av_frame_get_buffer(allocated, 0), "allocating a picture")
    } catch {
        av_frame_free(&picture)
        throw error
    }
    return allocated
}

/// The three planes of a yuv420p `picture` (even size), their rows one after another: how
/// tests compare pictures.
func packedYUV420Planes(_ picture: UnsafePointer<AVFrame>) -> [UInt8] {
    let (width, height) = (Int(picture.pointee.width), Int(picture.pointee.height))
    var planes: [UInt8] = []
    for (plane, (planeWidth, planeHeight)) in [(width, height), (width / 2, height / 2), (width / 2, height / 2)].enumerated() {
        let data = withUnsafeBytes(of: picture.pointee.data) { $0.bindMemory(to: UnsafeMutablePointer<UInt8>?.self)[plane] }
        let stride = withUnsafeBytes(of: picture.pointee.linesize) { Int($0.bindMemory(to: Int32.self)[plane]) }
        guard let data else { continue }
        for row in 0..<planeHeight { planes += UnsafeBufferPointer(start: data + row * stride, count: planeWidth) }
    }
    return planes
}
