internal import CFFmpeg

/// Byte order of a packed 8-bit, 3-channel pixel.
public enum PixelFormat: String, Sendable, Codable {
    /// Blue, green, red — OpenCV's order, which Wav2Lip's generator expects.
    case bgr24
    /// Red, green, blue — what S3FD (as Wav2Lip calls it) and BlazeFace take.
    case rgb24

    public var bytesPerPixel: Int { 3 }
}

/// A decoded picture owned by Swift: packed 8-bit pixels, rows `stride` bytes apart.
/// Equal frames have the same geometry, format, time and pixels (`coded` is not compared).
public struct Frame: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Bytes from one row to the next (≥ width × 3).
    public let stride: Int
    public let pixelFormat: PixelFormat
    /// Presentation time in seconds from the stream's start.
    public var presentationTime: Double
    /// Read-only outside this module: crops, resizes and encoders index it with unchecked
    /// pointers, so its size must always match the geometry checked at init. Pixel values
    /// can be changed in place with `withUnsafeMutablePixels` or `paste`.
    public private(set) var pixels: [UInt8]
    /// The decoder's picture these pixels were converted from, while only `changed` differs
    /// from it (`DecodeOptions.keepsCodedPicture`): an encoder takes the rest from its planes
    /// instead of converting the whole frame back (`VideoTrack`). Dropped by any change that
    /// does not say where it is.
    var coded: CodedPicture?
    /// The rectangle of pixels changed since decoding (nil: none), as far as `coded` is kept.
    var changed: PixelRect?

    /// Throws `MediaError.invalidArgument` when the buffer does not match the geometry.
    public init(
        width: Int, height: Int, stride: Int? = nil, pixelFormat: PixelFormat = .bgr24,
        presentationTime: Double = 0, pixels: [UInt8]
    ) throws {
        let rowBytes = width * pixelFormat.bytesPerPixel
        let stride = stride ?? rowBytes
        guard width > 0, height > 0, stride >= rowBytes, pixels.count >= stride * (height - 1) + rowBytes else {
            throw MediaError.invalidArgument(
                "a \(width)×\(height) \(pixelFormat.rawValue) frame with stride \(stride) "
                    + "needs \(stride * max(height - 1, 0) + rowBytes) bytes, got \(pixels.count)"
            )
        }
        self.init(unchecked: width, height, stride, pixelFormat, presentationTime, pixels)
    }

    init(unchecked width: Int, _ height: Int, _ stride: Int, _ format: PixelFormat, _ time: Double, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.stride = stride
        self.pixelFormat = format
        self.presentationTime = time
        self.pixels = pixels
    }

    public static func == (a: Frame, b: Frame) -> Bool {
        (a.width, a.height, a.stride, a.pixelFormat, a.presentationTime) == (b.width, b.height, b.stride, b.pixelFormat, b.presentationTime)
            && a.pixels == b.pixels
    }

    /// The pixel at (x, y) as three bytes in `pixelFormat` order; (0, 0, 0) outside the frame.
    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        guard (0..<width).contains(x), (0..<height).contains(y) else { return (0, 0, 0) }
        let offset = y * stride + x * 3
        return (pixels[offset], pixels[offset + 1], pixels[offset + 2])
    }

    /// Whether the rectangle `x..<x+width`, `y..<y+height` is non-empty and lies inside the frame.
    public func contains(x: Int, y: Int, width: Int, height: Int) -> Bool {
        width > 0 && height > 0 && x >= 0 && y >= 0 && x <= self.width - width && y <= self.height - height
    }

    /// Lets `body` change pixel values in place. The buffer has the frame's geometry
    /// (`stride` × rows); its size cannot change.
    public mutating func withUnsafeMutablePixels<R>(_ body: (UnsafeMutableBufferPointer<UInt8>) throws -> R) rethrows -> R {
        coded = nil
        return try pixels.withUnsafeMutableBufferPointer { buffer in try body(buffer) }
    }

    /// `withUnsafeMutablePixels` for a change confined to the rectangle `x..<x+width`,
    /// `y..<y+height` (clipped to the frame): `body` must not change a byte outside it. An
    /// encoder then converts only that part back from these pixels (the compositor's face box).
    public mutating func withUnsafeMutablePixels<R>(
        changing x: Int, y: Int, width: Int, height: Int, _ body: (UnsafeMutableBufferPointer<UInt8>) throws -> R
    ) rethrows -> R {
        markChanged(PixelRect(x: x, y: y, width: width, height: height))
        return try pixels.withUnsafeMutableBufferPointer { buffer in try body(buffer) }
    }

    /// Records `rect` (clipped to the frame) as changed.
    private mutating func markChanged(_ rect: PixelRect) {
        guard coded != nil, let clipped = rect.clipped(width: width, height: height) else { return }
        changed = changed.map { $0.union(clipped) } ?? clipped
    }

    /// Copies `source` (same pixel format) into this frame with its top-left corner at (x, y);
    /// it must fit inside.
    public mutating func paste(_ source: Frame, x: Int, y: Int) throws {
        guard source.pixelFormat == pixelFormat, contains(x: x, y: y, width: source.width, height: source.height) else {
            throw MediaError.invalidArgument(
                "pasting a \(source.width)×\(source.height) \(source.pixelFormat.rawValue) frame at (\(x), \(y)) "
                    + "into a \(width)×\(height) \(pixelFormat.rawValue) frame")
        }
        let rowBytes = source.width * 3
        let stride = self.stride
        markChanged(PixelRect(x: x, y: y, width: source.width, height: source.height))
        pixels.withUnsafeMutableBufferPointer { destination in
            source.pixels.withUnsafeBufferPointer { from in
                for row in 0..<source.height {
                    let to = (y + row) * stride + x * 3
                    let start = row * source.stride
                    UnsafeMutableBufferPointer(rebasing: destination[to..<(to + rowBytes)])
                        .update(fromContentsOf: from[start..<(start + rowBytes)])
                }
            }
        }
    }

    /// The frame turned clockwise by 0, 90, 180 or 270 degrees (tightly packed result).
    public func rotated(clockwise degrees: Int) -> Frame {
        let turns = ((degrees / 90) % 4 + 4) % 4
        guard turns != 0 else { return self }
        let (outWidth, outHeight) = turns == 2 ? (width, height) : (height, width)
        let outStride = outWidth * 3
        var output = [UInt8](repeating: 0, count: outStride * outHeight)
        pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                for y in 0..<height {
                    let row = y * stride
                    for x in 0..<width {
                        // Where source pixel (x, y) lands after the turn.
                        let (u, v): (Int, Int) =
                            switch turns {
                            case 1: (height - 1 - y, x)
                            case 2: (width - 1 - x, height - 1 - y)
                            default: (y, width - 1 - x)
                            }
                        let from = row + x * 3
                        let to = v * outStride + u * 3
                        destination[to] = source[from]
                        destination[to + 1] = source[from + 1]
                        destination[to + 2] = source[from + 2]
                    }
                }
            }
        }
        return Frame(unchecked: outWidth, outHeight, outStride, pixelFormat, presentationTime, output)
    }
}

/// A rectangle of pixels, `x..<x+width` × `y..<y+height`.
struct PixelRect: Sendable, Equatable {
    var x: Int
    var y: Int
    var width: Int
    var height: Int

    var maxX: Int { x + width }
    var maxY: Int { y + height }

    /// The part inside a `width`×`height` picture; nil when empty.
    func clipped(width limitX: Int, height limitY: Int) -> PixelRect? {
        let (x0, y0) = (max(0, x), max(0, y))
        let (x1, y1) = (min(limitX, maxX), min(limitY, maxY))
        guard x1 > x0, y1 > y0 else { return nil }
        return PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }

    /// The smallest rectangle holding both.
    func union(_ other: PixelRect) -> PixelRect {
        let (x0, y0) = (min(x, other.x), min(y, other.y))
        return PixelRect(x: x0, y: y0, width: max(maxX, other.maxX) - x0, height: max(maxY, other.maxY) - y0)
    }
}

/// A reference to a decoded picture in the decoder's own format (its buffers are reference
/// counted by FFmpeg and never written after decoding): what `Frame.coded` keeps. Read-only,
/// so it can be shared between threads.
final class CodedPicture: @unchecked Sendable {
    let picture: UnsafeMutablePointer<AVFrame>

    /// A new reference to `source`'s buffers; nil when out of memory.
    init?(referencing source: UnsafePointer<AVFrame>) {
        guard let clone = av_frame_clone(source) else { return nil }
        picture = clone
    }

    deinit {
        var owned: UnsafeMutablePointer<AVFrame>? = picture
        av_frame_free(&owned)
    }

    var isYUV420P: Bool { picture.pointee.format == AV_PIX_FMT_YUV420P.rawValue }
    var width: Int { Int(picture.pointee.width) }
    var height: Int { Int(picture.pointee.height) }
    /// Its planes as `packedYUV420Planes` (yuv420p pictures).
    var packedPlanes: [UInt8] { packedYUV420Planes(picture) }
}
