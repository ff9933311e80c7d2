import CFFmpeg
import Foundation

/// An opened media file (libavformat demuxer). Owns the AVFormatContext; closing happens
/// in deinit. Opening applies the size limit and turns FFmpeg's refusals into `MediaError`.
final class InputFile {
    let path: String
    let fileBytes: Int
    let context: UnsafeMutablePointer<AVFormatContext>

    /// Demuxers that read single still images; a "video" from them is a picture.
    private static let imageDemuxers: Set<String> = ["image2", "image2pipe"]

    /// `acceptStillImages`: open PNG/JPEG files too (a face photo); refused by default
    /// because a still image is not a usable input video.
    init(path: String, limits: MediaLimits, acceptStillImages: Bool = false) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
              FileManager.default.isReadableFile(atPath: path)
        else { throw MediaError.fileNotFound(path: path) }
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
        guard bytes > 0 else { throw MediaError.emptyFile(path: path) }
        guard bytes <= limits.maxFileBytes else { throw MediaError.fileTooLarge(bytes: bytes, limit: limits.maxFileBytes) }

        var context: UnsafeMutablePointer<AVFormatContext>?
        let opened = avformat_open_input(&context, path, nil, nil)
        guard opened >= 0, let context else {
            if opened == AVErrorCode.invalidData || opened == AVErrorCode.endOfFile {
                throw MediaError.notMediaFile(reason: ffmpegMessage(opened))
            }
            throw MediaError.ffmpeg(operation: "opening \(path)", code: opened, message: ffmpegMessage(opened))
        }
        self.path = path
        self.fileBytes = bytes
        self.context = context

        let formatName = context.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
        if !acceptStillImages, Self.imageDemuxers.contains(formatName) || formatName.hasSuffix("_pipe") {
            throw MediaError.notAVideo(format: formatName)
        }
        let found = avformat_find_stream_info(context, nil)
        if found < 0 {
            throw MediaError.notMediaFile(reason: "no stream information: \(ffmpegMessage(found))")
        }
    }

    deinit {
        var context: UnsafeMutablePointer<AVFormatContext>? = self.context
        avformat_close_input(&context)
    }

    var formatName: String {
        context.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown"
    }

    /// Container duration in seconds (0 when unknown).
    var duration: Double {
        let value = context.pointee.duration
        return value > 0 ? Double(value) / Double(AV_TIME_BASE) : 0
    }

    func stream(_ index: Int32) -> UnsafeMutablePointer<AVStream> {
        context.pointee.streams[Int(index)]!  // index came from av_find_best_stream on this context
    }

    /// Index of the best stream of `type`, or nil.
    func bestStream(_ type: AVMediaType) -> Int32? {
        let index = av_find_best_stream(context, type, -1, -1, nil, 0)
        return index >= 0 ? index : nil
    }

    /// Stream duration in seconds, falling back to the container's.
    func duration(of stream: UnsafeMutablePointer<AVStream>) -> Double {
        let value = stream.pointee.duration
        if value > 0, value != Int64.min {
            return Double(value) * stream.pointee.time_base.doubleValue
        }
        return duration
    }

    /// An opened decoder for `stream` with threading enabled.
    func openDecoder(for stream: UnsafeMutablePointer<AVStream>) throws -> UnsafeMutablePointer<AVCodecContext> {
        let parameters = stream.pointee.codecpar!
        guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
            throw MediaError.unsupportedCodec(String(cString: avcodec_get_name(parameters.pointee.codec_id)))
        }
        guard let decoder = avcodec_alloc_context3(codec) else {
            throw MediaError.ffmpeg(operation: "allocating a decoder", code: -ENOMEM, message: "out of memory")
        }
        do {
            try ffmpegCheck(avcodec_parameters_to_context(decoder, parameters), "configuring the decoder")
            decoder.pointee.pkt_timebase = stream.pointee.time_base
            decoder.pointee.thread_count = 0  // one per core
            decoder.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
            try ffmpegCheck(avcodec_open2(decoder, codec, nil), "opening the \(String(cString: codec.pointee.name)) decoder")
        } catch {
            var owned: UnsafeMutablePointer<AVCodecContext>? = decoder
            avcodec_free_context(&owned)
            throw error
        }
        return decoder
    }
}
