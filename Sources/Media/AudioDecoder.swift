internal import CFFmpeg

/// Decodes the audio of any file FFmpeg reads (a video's audio track, WAV, MP3, AAC,
/// Opus…) to mono Float32 at a chosen rate.
public enum AudioDecoder {
    /// - Parameters:
    ///   - sampleRate: output rate (16 000 for the models, 22 050 for TTS); nil keeps the file's.
    /// - Throws: `MediaError.noAudioStream` when the file has none, plus the usual input errors.
    ///
    /// Channels are averaged to mono (as librosa does); resampling uses libswresample's
    /// default windowed-sinc filter.
    public static func decode(_ path: String, sampleRate: Int? = nil, limits: MediaLimits = MediaLimits()) throws -> AudioBuffer {
        let input = try InputFile(path: path, limits: limits)
        let info = try MediaProbe.describe(input, limits: limits)
        let audio = try info.requireAudio()
        guard let index = input.bestStream(AVMEDIA_TYPE_AUDIO) else { throw MediaError.noAudioStream }
        let outputRate = sampleRate ?? audio.sampleRate
        guard outputRate > 0, outputRate <= 384_000 else {
            throw MediaError.invalidArgument("sample rate \(outputRate) Hz is out of range")
        }
        var decoder: UnsafeMutablePointer<AVCodecContext>? = try input.openDecoder(for: input.stream(index))
        defer { avcodec_free_context(&decoder) }
        var packet = av_packet_alloc()
        defer { av_packet_free(&packet) }
        var frame = av_frame_alloc()
        defer { av_frame_free(&frame) }
        guard let decoder, let packet, let frame else {
            throw MediaError.ffmpeg(operation: "allocating decode buffers", code: -12, message: "out of memory")
        }

        // Longest output accepted: the duration limit plus a second of slack for codec padding.
        let maxSamples = Int((limits.maxDurationSeconds + 1) * Double(outputRate))
        var resampler: Resampler?
        var samples: [Float] = []
        samples.reserveCapacity(Int(audio.duration * Double(outputRate)) + 1024)

        func drainDecoder() throws -> Bool {
            while true {
                let received = avcodec_receive_frame(decoder, frame)
                if received == AVErrorCode.tryAgain { return false }
                if received == AVErrorCode.endOfFile { return true }
                guard received >= 0 else {
                    throw MediaError.corrupt("audio cannot be decoded: \(ffmpegMessage(received))")
                }
                defer { av_frame_unref(frame) }
                if resampler == nil { resampler = try Resampler(from: frame, to: outputRate) }
                try resampler?.convert(frame, appendingTo: &samples)
                if samples.count > maxSamples {
                    throw MediaError.durationTooLong(seconds: Double(samples.count) / Double(outputRate), limit: limits.maxDurationSeconds)
                }
            }
        }

        var finished = false
        while !finished {
            let read = av_read_frame(input.context, packet)
            if read == AVErrorCode.endOfFile {
                _ = avcodec_send_packet(decoder, nil)
                finished = try drainDecoder()
                break
            }
            guard read >= 0 else {
                if Task.isCancelled { throw CancellationError() }  // the interrupt callback stopped the read
                throw MediaError.truncated("audio reading stopped: \(ffmpegMessage(read))")
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == index else { continue }
            let sent = avcodec_send_packet(decoder, packet)
            if sent < 0, sent != AVErrorCode.tryAgain {
                throw MediaError.corrupt("audio packet cannot be decoded: \(ffmpegMessage(sent))")
            }
            finished = try drainDecoder()
        }
        try resampler?.flush(appendingTo: &samples)
        return AudioBuffer(samples: samples, sampleRate: outputRate)
    }
}

/// libswresample to planar float at the output rate, keeping the input's channels; the
/// channels are then averaged into mono.
final class Resampler {
    /// Highest input rate accepted (studio audio goes to 768 kHz).
    static let maxInputRate = 768_000
    private var context: OpaquePointer?
    private let channels: Int

    convenience init(from frame: UnsafeMutablePointer<AVFrame>, to outputRate: Int) throws {
        var layout = frame.pointee.ch_layout
        if layout.order == AV_CHANNEL_ORDER_UNSPEC || layout.nb_channels <= 0 {
            av_channel_layout_default(&layout, max(frame.pointee.ch_layout.nb_channels, 1))
        }
        try self.init(
            layout: layout, format: AVSampleFormat(rawValue: frame.pointee.format),
            inputRate: Int(frame.pointee.sample_rate), outputRate: outputRate)
    }

    init(layout: AVChannelLayout, format: AVSampleFormat, inputRate: Int, outputRate: Int) throws {
        guard inputRate > 0 else { throw MediaError.corrupt("the audio stream has no sample rate") }
        // swresample's filter set-up grows with the input rate (a WAV declaring 1.27 GHz spent
        // 11 s and 1.4 GB in swr_init; found by fuzzing): nothing real is above 768 kHz.
        guard inputRate <= Self.maxInputRate else {
            throw MediaError.corrupt("the audio stream's sample rate of \(inputRate) Hz is above \(Self.maxInputRate) Hz")
        }
        var inputLayout = layout
        var outputLayout = layout
        channels = Int(layout.nb_channels)
        var context: OpaquePointer?
        try ffmpegCheck(
            swr_alloc_set_opts2(
                &context, &outputLayout, AV_SAMPLE_FMT_FLTP, Int32(outputRate),
                &inputLayout, format, Int32(inputRate), 0, nil), "configuring the resampler")
        self.context = context
        try ffmpegCheck(swr_init(context), "starting the resampler")
    }

    deinit {
        swr_free(&context)
    }

    func convert(_ frame: UnsafeMutablePointer<AVFrame>, appendingTo samples: inout [Float]) throws {
        let planes = frame.pointee.extended_data.map {
            UnsafeMutableRawPointer($0).assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
        }
        try run(input: planes, count: frame.pointee.nb_samples, appendingTo: &samples)
    }

    func flush(appendingTo samples: inout [Float]) throws {
        try run(input: nil, count: 0, appendingTo: &samples)
    }

    func run(input: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, count: Int32, appendingTo samples: inout [Float]) throws {
        let capacity = Int(swr_get_out_samples(context, count))
        guard capacity > 0 else { return }
        // One buffer, `channels` planes of `capacity` samples each.
        var planar = [Float](repeating: 0, count: capacity * channels)
        let produced: Int32 = planar.withUnsafeMutableBufferPointer { buffer in
            var planes: [UnsafeMutablePointer<UInt8>?] = (0..<channels).map { channel in
                UnsafeMutableRawPointer(buffer.baseAddress! + channel * capacity).assumingMemoryBound(to: UInt8.self)
            }
            return swr_convert(context, &planes, Int32(capacity), input, count)
        }
        try ffmpegCheck(produced, "resampling audio")
        let scale = 1 / Float(channels)
        for i in 0..<Int(produced) {
            var sum: Float = 0
            for channel in 0..<channels { sum += planar[channel * capacity + i] }
            samples.append(channels == 1 ? sum : sum * scale)
        }
    }
}
