internal import CFFmpeg
import Glibc

/// FFmpeg's error codes that are macros in C (not imported into Swift): FFERRTAG.
enum AVErrorCode {
    private static func tag(_ bytes: [UInt8]) -> Int32 {
        let value = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        return -Int32(bitPattern: value)
    }
    static let endOfFile = tag(Array("EOF ".utf8))
    static let invalidData = tag(Array("INDA".utf8))
    static let tryAgain = -EAGAIN
}

/// FFmpeg's text for an error code.
func ffmpegMessage(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 { return "unknown error \(code)" }
    return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Throws `MediaError.ffmpeg` for a negative return code; returns it otherwise.
@discardableResult
func ffmpegCheck(_ code: Int32, _ operation: @autoclosure () -> String) throws -> Int32 {
    guard code < 0 else { return code }
    if code == -ENOSPC || code == -EDQUOT { throw MediaError.noSpace(path: operation()) }
    throw MediaError.ffmpeg(operation: operation(), code: code, message: ffmpegMessage(code))
}

extension AVRational {
    var doubleValue: Double { den == 0 ? 0 : Double(num) / Double(den) }
    var isValid: Bool { num > 0 && den > 0 }
}
