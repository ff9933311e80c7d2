internal import CFFmpeg

/// Reads what a media file holds without decoding it, and checks it against limits.
public enum MediaProbe {
    /// Container, streams, rotation, rates, duration and frame count of `path`.
    /// Throws `MediaError` for unreadable, unsupported, truncated or over-limit files, and
    /// `.notAVideo` for a still photo unless `acceptStillImages`.
    public static func probe(_ path: String, limits: MediaLimits = MediaLimits(), acceptStillImages: Bool = false) throws -> VideoInfo {
        let input = try InputFile(path: path, limits: limits, acceptStillImages: acceptStillImages)
        return try describe(input, limits: limits)
    }

    /// Counts the video frames by reading every packet (no decoding): for containers that
    /// do not record the count (WebM, Matroska, raw streams).
    public static func countFrames(_ path: String, limits: MediaLimits = MediaLimits()) throws -> Int {
        let input = try InputFile(path: path, limits: limits)
        guard let index = input.bestStream(AVMEDIA_TYPE_VIDEO) else { throw MediaError.noVideoStream }
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        var count = 0
        while true {
            let status = av_read_frame(input.context, packet)
            if status == AVErrorCode.endOfFile { break }
            try ffmpegCheck(status, "reading \(path)")
            if packet!.pointee.stream_index == index { count += 1 }
            av_packet_unref(packet)
            if count > limits.maxFrameCount { throw MediaError.tooManyFrames(count: count, limit: limits.maxFrameCount) }
        }
        return count
    }

    static func describe(_ input: InputFile, limits: MediaLimits) throws -> VideoInfo {
        var info = VideoInfo(container: input.formatName, fileBytes: input.fileBytes, duration: input.duration)
        if let index = input.bestStream(AVMEDIA_TYPE_VIDEO) {
            info.video = try videoInfo(input, input.stream(index), limits: limits)
        }
        if let index = input.bestStream(AVMEDIA_TYPE_AUDIO) {
            let stream = input.stream(index)
            let parameters = stream.pointee.codecpar!
            info.audio = AudioStreamInfo(
                codec: String(cString: avcodec_get_name(parameters.pointee.codec_id)),
                sampleRate: Int(parameters.pointee.sample_rate),
                channels: Int(parameters.pointee.ch_layout.nb_channels),
                duration: input.duration(of: stream))
        }
        guard info.video != nil || info.audio != nil else {
            throw MediaError.notMediaFile(reason: "no audio or video stream")
        }
        let duration = max(info.duration, info.video?.duration ?? 0, info.audio?.duration ?? 0)
        guard duration <= limits.maxDurationSeconds else {
            throw MediaError.durationTooLong(seconds: duration, limit: limits.maxDurationSeconds)
        }
        return info
    }

    private static func videoInfo(_ input: InputFile, _ stream: UnsafeMutablePointer<AVStream>, limits: MediaLimits) throws
        -> VideoStreamInfo
    {
        let parameters = stream.pointee.codecpar!
        let width = Int(parameters.pointee.width)
        let height = Int(parameters.pointee.height)
        let codec = String(cString: avcodec_get_name(parameters.pointee.codec_id))
        guard width > 0, height > 0 else {
            throw MediaError.corrupt("the \(codec) video stream declares no picture size")
        }
        guard width <= limits.maxDimension, height <= limits.maxDimension else {
            throw MediaError.dimensionsTooLarge(width: width, height: height, limit: limits.maxDimension)
        }
        let rotation = displayRotation(stream)
        let average = stream.pointee.avg_frame_rate
        let real = stream.pointee.r_frame_rate
        let averageRate = average.isValid ? average : real
        let realRate = real.isValid ? real : average
        guard averageRate.isValid else { throw MediaError.corrupt("the video stream has no frame rate") }
        let variable = abs(averageRate.doubleValue - realRate.doubleValue) > 0.01 * realRate.doubleValue
        let duration = input.duration(of: stream)
        let recorded = Int(stream.pointee.nb_frames)
        let frameCount: Int? = recorded > 0 ? recorded : nil
        let estimated = frameCount ?? Int((duration * averageRate.doubleValue).rounded())
        guard estimated <= limits.maxFrameCount else {
            throw MediaError.tooManyFrames(count: estimated, limit: limits.maxFrameCount)
        }
        try checkIndexWithinFile(stream, fileBytes: input.fileBytes)
        let swaps = rotation == 90 || rotation == 270
        return VideoStreamInfo(
            codec: codec, width: width, height: height, rotation: rotation,
            displayWidth: swaps ? height : width, displayHeight: swaps ? width : height,
            averageFrameRate: Rational(Int(averageRate.num), Int(averageRate.den)),
            realFrameRate: Rational(Int(realRate.num), Int(realRate.den)),
            variableFrameRate: variable, frameCount: frameCount, duration: duration)
    }

    /// Clockwise degrees (0/90/180/270) from the stream's display matrix. FFmpeg reports
    /// the matrix's counter-clockwise angle; players rotate by its negation.
    static func displayRotation(_ stream: UnsafeMutablePointer<AVStream>) -> Int {
        var size = 0
        guard let data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 9 * 4 else { return 0 }
        let angle = data.withMemoryRebound(to: Int32.self, capacity: 9) { av_display_rotation_get($0) }
        guard angle.isFinite else { return 0 }
        let clockwise = Int((-angle).rounded())
        let normalized = ((clockwise % 360) + 360) % 360
        // Only right angles are meaningful for phone video; snap anything else to the nearest.
        return (((normalized + 45) / 90) * 90) % 360
    }

    /// Containers with a sample index (MP4/MOV) say where every packet lives; a file cut
    /// short ends before its last packet.
    private static func checkIndexWithinFile(_ stream: UnsafeMutablePointer<AVStream>, fileBytes: Int) throws {
        let entries = avformat_index_get_entries_count(stream)
        guard entries > 0, let last = avformat_index_get_entry(stream, entries - 1) else { return }
        let end = Int(last.pointee.pos) + Int(last.pointee.size)
        if end > fileBytes {
            throw MediaError.truncated("its index places video data up to byte \(end), but the file has \(fileBytes) bytes")
        }
    }
}
