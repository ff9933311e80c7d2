internal import CFFmpeg
import Foundation

/// An opened media file (libavformat demuxer). Owns the AVFormatContext; closing happens
/// in deinit. Opening applies the size limit and turns FFmpeg's refusals into `MediaError`.
final class InputFile {
    let path: String
    let fileBytes: Int
    let context: UnsafeMutablePointer<AVFormatContext>

    /// Demuxers that read single still images; a "video" from them is a picture.
    static let imageDemuxers: Set<String> = ["png_pipe", "jpeg_pipe", "webp_pipe"]
    /// Containers of the videos and recordings people send (FFmpeg demuxer names). Nothing
    /// else is opened: playlist, list and device demuxers (hls, dash, concat, image2
    /// sequences, v4l2…) read other files or devices named inside the input.
    static let mediaDemuxers: Set<String> = [
        "mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "mpegts", "flv", "ogg", "wav", "mp3", "flac", "aac",
        "yuv4mpegpipe",
    ]
    /// `format_whitelist` for libavformat: the sets above.
    static let formatWhitelist = (mediaDemuxers.union(imageDemuxers)).sorted().joined(separator: ",")

    /// `acceptStillImages`: open PNG/JPEG files too (a face photo); refused by default
    /// because a still image is not a usable input video.
    ///
    /// Only a regular local file is opened, through FFmpeg's `file` protocol alone and only
    /// with the demuxers above (the container is probed first and refused by name), so
    /// nothing inside a file can make FFmpeg open another file, a device or a URL.
    init(path: String, limits: MediaLimits, acceptStillImages: Bool = false) throws {
        var status = stat()
        guard stat(path, &status) == 0, access(path, R_OK) == 0, status.st_mode & S_IFMT != S_IFDIR else {
            throw MediaError.fileNotFound(path: path)
        }
        // A FIFO or device would block or never end; a directory is not media.
        guard status.st_mode & S_IFMT == S_IFREG else { throw MediaError.notMediaFile(reason: "not a regular file") }
        let bytes = Int(status.st_size)
        guard bytes > 0 else { throw MediaError.emptyFile(path: path) }
        guard bytes <= limits.maxFileBytes else { throw MediaError.fileTooLarge(bytes: bytes, limit: limits.maxFileBytes) }

        // `file:` keeps a name with a colon from being read as another protocol.
        let url = "file:" + (path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path)
        let format = try Self.probe(url)
        let formatName = String(cString: format.pointee.name)
        guard Self.accepts(formatName) else {
            throw MediaError.notMediaFile(reason: "the container '\(formatName)' is not accepted")
        }
        if !acceptStillImages, Self.imageDemuxers.contains(formatName) || formatName.hasSuffix("_pipe") {
            throw MediaError.notAVideo(format: formatName)
        }
        guard var context = avformat_alloc_context() else {
            throw MediaError.ffmpeg(operation: "allocating a demuxer", code: -ENOMEM, message: "out of memory")
        }
        // Reads stop when the task that makes them is cancelled (FFmpeg calls this from
        // inside its reads, on the reading thread, where the task is current).
        context.pointee.interrupt_callback = AVIOInterruptCB(callback: { _ in Task.isCancelled ? 1 : 0 }, opaque: nil)
        var options = Self.openOptions()
        defer { av_dict_free(&options) }
        var opening: UnsafeMutablePointer<AVFormatContext>? = context
        let opened = avformat_open_input(&opening, url, format, &options)  // frees the context on failure
        guard opened >= 0, let opening else {
            if Task.isCancelled { throw CancellationError() }
            if opened == AVErrorCode.invalidData || opened == AVErrorCode.endOfFile {
                throw MediaError.notMediaFile(reason: ffmpegMessage(opened))
            }
            throw MediaError.ffmpeg(operation: "opening \(path)", code: opened, message: ffmpegMessage(opened))
        }
        context = opening
        self.path = path
        self.fileBytes = bytes
        self.context = context

        let found = avformat_find_stream_info(context, nil)
        if found < 0 {
            if Task.isCancelled { throw CancellationError() }
            throw MediaError.notMediaFile(reason: "no stream information: \(ffmpegMessage(found))")
        }
    }

    /// Whether a demuxer (FFmpeg's comma-separated name list) is one of the accepted ones.
    static func accepts(_ formatName: String) -> Bool {
        formatName.split(separator: ",").contains { mediaDemuxers.contains(String($0)) || imageDemuxers.contains(String($0)) }
    }

    /// The protocol and format whitelists every open carries (nested opens inherit them).
    private static func openOptions() -> OpaquePointer? {
        var options: OpaquePointer?
        av_dict_set(&options, "protocol_whitelist", "file", 0)
        av_dict_set(&options, "format_whitelist", formatWhitelist, 0)
        return options
    }

    /// FFmpeg's own container detection (content first, growing reads up to 1 MiB), run on
    /// the file alone so the format is known, and refused if need be, before a demuxer opens it.
    private static func probe(_ url: String) throws -> UnsafePointer<AVInputFormat> {
        var io: UnsafeMutablePointer<AVIOContext>?
        var options = openOptions()
        defer { av_dict_free(&options) }
        let opened = avio_open2(&io, url, AVIO_FLAG_READ, nil, &options)
        guard opened >= 0, let io else {
            throw MediaError.ffmpeg(operation: "opening the file", code: opened, message: ffmpegMessage(opened))
        }
        defer {
            var owned: UnsafeMutablePointer<AVIOContext>? = io
            avio_closep(&owned)
        }
        var format: UnsafePointer<AVInputFormat>?
        let score = av_probe_input_buffer2(io, &format, url, nil, 0, 0)
        guard score >= 0, let format else {
            throw MediaError.notMediaFile(reason: score < 0 ? ffmpegMessage(score) : "no container recognised")
        }
        return format
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
