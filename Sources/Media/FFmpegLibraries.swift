internal import CFFmpeg

/// Versions of the FFmpeg libraries this process loaded, and which codecs we rely on exist.
public struct FFmpegLibraries: Sendable, Equatable {
    /// FFmpeg release string, e.g. "5.1.6-0+deb12u1".
    public let release: String
    /// Library name → "major.minor.micro" of the loaded shared object.
    public let libraries: [(name: String, version: String)]
    /// libx264 (H.264 encoder) is available.
    public let hasH264Encoder: Bool
    /// The native AAC encoder is available.
    public let hasAACEncoder: Bool

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.release == rhs.release && lhs.libraries.elementsEqual(rhs.libraries, by: { $0 == $1 })
            && lhs.hasH264Encoder == rhs.hasH264Encoder && lhs.hasAACEncoder == rhs.hasAACEncoder
    }

    /// Reads the versions from the loaded libraries (not the headers we compiled against).
    public static func loaded() -> FFmpegLibraries {
        func format(_ packed: UInt32) -> String { "\(packed >> 16).\((packed >> 8) & 0xff).\(packed & 0xff)" }
        return FFmpegLibraries(
            release: av_version_info().map { String(cString: $0) } ?? "unknown",
            libraries: [
                ("libavformat", format(avformat_version())),
                ("libavcodec", format(avcodec_version())),
                ("libavutil", format(avutil_version())),
                ("libswscale", format(swscale_version())),
                ("libswresample", format(swresample_version())),
            ],
            hasH264Encoder: avcodec_find_encoder_by_name("libx264") != nil,
            hasAACEncoder: avcodec_find_encoder(AV_CODEC_ID_AAC) != nil)
    }
}
