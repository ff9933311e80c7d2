import FuzzSupport
import Media

// Media probing and decoding of one uploaded file (docs/fuzzing.md, target `fuzz-media`).
//
// Input format: byte 0 picks the file's extension (a stored input keeps the extension of its
// object name, and FFmpeg's probing weighs it), the rest is the file. The file goes through
// what a job does with an upload: probe, count frames, decode the first frames (with the
// face-detection copy), decode the audio at 16 kHz; a picture through `StillImage`.

let extensions = ["", "mp4", "mov", "webm", "mkv", "m4a", "mp3", "wav", "png", "jpg", "gif", "avi", "ts", "3gp", "ogg", "flac"]
let imageExtensions: Set<String> = ["png", "jpg", "gif", ""]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMedia(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data, size > 1 else { return 0 }
    FuzzLogging.install()
    let ext = extensions[Int(data[0]) % extensions.count]
    let path = FuzzWorkspace.write(UnsafeBufferPointer(start: data + 1, count: size - 1), name: ext.isEmpty ? "input" : "input.\(ext)")
    defer { FuzzWorkspace.remove(path) }

    let info: VideoInfo
    do {
        info = try MediaProbe.probe(path, limits: fuzzLimits)
    } catch MediaError.notAVideo {
        if imageExtensions.contains(ext),
            let still = try? StillImage.decode(path, options: DecodeOptions(detectionMaxSide: 48), limits: fuzzLimits)
        {
            checkFrame(still.frame, "still image")
            if let detection = still.detection { checkFrame(detection, "still image (detection copy)") }
        }
        return 0
    } catch {
        return 0
    }
    require(info.video != nil || info.audio != nil, "probe accepted a file with neither video nor audio")
    require(info.fileBytes == size - 1, "probe reports \(info.fileBytes) bytes for a \(size - 1)-byte file")

    if let video = info.video {
        require(
            video.width > 0 && video.height > 0 && video.width <= fuzzLimits.maxDimension && video.height <= fuzzLimits.maxDimension,
            "probe accepted a \(video.width)×\(video.height) video")
        require([0, 90, 180, 270].contains(video.rotation), "rotation \(video.rotation)")
        if let counted = try? MediaProbe.countFrames(path, limits: fuzzLimits) {
            require(counted >= 0 && counted <= fuzzLimits.maxFrameCount, "countFrames returned \(counted)")
        }
        if let decoder = try? VideoDecoder(path: path, options: DecodeOptions(detectionMaxSide: 48), limits: fuzzLimits) {
            for _ in 0..<4 {
                guard let decoded = try? decoder.next() else { break }
                checkFrame(decoded.frame, "frame \(decoded.index)")
                if let detection = decoded.detection {
                    checkFrame(detection, "frame \(decoded.index) (detection copy)")
                    require(max(detection.width, detection.height) <= 48, "detection copy \(detection.width)×\(detection.height) > 48")
                    require(decoded.detectionScale > 0 && decoded.detectionScale <= 1, "detection scale \(decoded.detectionScale)")
                }
            }
        }
    }
    if info.audio != nil, let audio = try? AudioDecoder.decode(path, sampleRate: 16_000, limits: fuzzLimits) {
        require(audio.sampleRate == 16_000, "audio decoded at \(audio.sampleRate) Hz, asked for 16 kHz")
        require(
            audio.samples.count <= Int((fuzzLimits.maxDurationSeconds + 1) * 16_000),
            "\(audio.samples.count) samples exceed the duration limit")
    }
    return 0
}

/// A frame's pixel storage covers every row it claims (crop, resize and paste index it unchecked).
func checkFrame(_ frame: Frame, _ what: String) {
    let rowBytes = frame.width * frame.pixelFormat.bytesPerPixel
    require(frame.width > 0 && frame.height > 0, "\(what): \(frame.width)×\(frame.height)")
    require(frame.stride >= rowBytes, "\(what): stride \(frame.stride) < row of \(rowBytes) bytes")
    require(
        frame.pixels.count >= (frame.height - 1) * frame.stride + rowBytes,
        "\(what): \(frame.pixels.count) bytes of pixels for \(frame.width)×\(frame.height), stride \(frame.stride)")
    require(frame.presentationTime.isFinite, "\(what): presentation time \(frame.presentationTime)")
}
