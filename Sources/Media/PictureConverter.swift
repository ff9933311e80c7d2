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

    /// Hands back the pixels of a frame its holder is done with, for a later `convert` of the
    /// same size. A 1080p frame is 6.2 MB: allocated fresh, each is mapped and faulted in page
    /// by page (1 MiB and larger blocks come from their own mappings, ProcessSetup), which cost
    /// the word case's render ~0.2 s of CPU. A buffer still held elsewhere is copied, not
    /// overwritten, when reused.
    func recycle(_ pixels: [UInt8]) {
        guard spare.count < Self.maxSpare, pixels.count > 0 else { return }
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
