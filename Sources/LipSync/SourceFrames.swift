import Foundation
import Media

/// The source frames of a render in the order its schedule shows them, decoded once, in
/// order, and held by nobody but the caller. A frame the schedule shows again later (speech
/// longer than the video, in ping-pong or loop order) is written raw to a spill file beside
/// the output when it is first decoded and read back from there; the file is removed by
/// `close()`. Memory stays one frame; disk holds the frames that come back.
final class SourceFrames {
    private let schedule: FrameSchedule
    private let photo: Frame?
    private let openDecoder: () throws -> VideoDecoder?
    private var decoder: VideoDecoder?
    /// Later showings of each source frame.
    private var remainingUses: [Int]
    /// The source frame the decoder delivers next.
    private var nextSource = 0
    private let spillPath: String
    private var spillDescriptor: Int32 = -1
    private var spillEnd: Int = 0
    private var slots: [Int: Slot] = [:]

    private struct Slot {
        let offset: Int
        let byteCount: Int
        let width: Int
        let height: Int
        let stride: Int
        let format: PixelFormat
        let time: Double
    }

    /// Frames written to the spill file.
    var spilledFrames: Int { slots.count }

    init(
        video: String, photo: Frame?, schedule: FrameSchedule, spill: String, options: LipSyncOptions,
        open: @escaping () throws -> VideoDecoder?
    ) throws {
        self.schedule = schedule
        self.photo = photo
        self.openDecoder = open
        self.spillPath = spill
        var uses = [Int](repeating: 0, count: schedule.sourceFramesNeeded)
        for source in schedule.sourceIndices { uses[source] += 1 }
        self.remainingUses = uses
    }

    deinit { close() }

    /// The source frame output frame `output` shows. Outputs must be asked for in order.
    func frame(at output: Int) throws -> Frame {
        let source = schedule.sourceIndices[output]
        remainingUses[source] -= 1
        if let photo { return photo }
        try Task.checkCancellation()
        if let slot = slots[source] { return try read(slot) }
        guard source == nextSource else {
            throw MediaError.invalidArgument("source frame \(source) was asked for out of order (next is \(nextSource))")
        }
        if decoder == nil { decoder = try openDecoder() }
        guard let decoded = try decoder?.next() else { throw LipSyncError.noFrames }
        nextSource += 1
        if remainingUses[source] > 0 { try write(decoded.frame, as: source) }
        return decoded.frame
    }

    /// Hands back frames the caller is done with, for the decoder to decode later frames into:
    /// no more than the frames still to decode (when the rest comes from the spill file, a
    /// kept buffer would only hold memory — measured: a 4K ping-pong render +400 MB).
    func recycle(_ frames: [Frame]) {
        guard photo == nil else { return }
        decoder?.recycle(frames, limit: max(0, schedule.sourceFramesNeeded - nextSource))
    }

    /// Closes and removes the spill file.
    func close() {
        if spillDescriptor >= 0 {
            Glibc.close(spillDescriptor)
            unlink(spillPath)
            spillDescriptor = -1
        }
    }

    private func write(_ frame: Frame, as source: Int) throws {
        if spillDescriptor < 0 {
            spillDescriptor = open(spillPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard spillDescriptor >= 0 else { throw MediaError.writeFailed(path: spillPath, reason: String(cString: strerror(errno))) }
        }
        let written = frame.pixels.withUnsafeBytes { bytes in pwriteAll(bytes, at: spillEnd) }
        guard written else {
            if errno == ENOSPC || errno == EDQUOT { throw MediaError.noSpace(path: spillPath) }
            throw MediaError.writeFailed(path: spillPath, reason: String(cString: strerror(errno)))
        }
        slots[source] = Slot(
            offset: spillEnd, byteCount: frame.pixels.count, width: frame.width, height: frame.height,
            stride: frame.stride,
            format: frame.pixelFormat, time: frame.presentationTime)
        spillEnd += frame.pixels.count
    }

    private func read(_ slot: Slot) throws -> Frame {
        var pixels = [UInt8](repeating: 0, count: slot.byteCount)
        let complete = pixels.withUnsafeMutableBytes { buffer -> Bool in
            var done = 0
            while done < slot.byteCount {
                let count = pread(spillDescriptor, buffer.baseAddress! + done, slot.byteCount - done, off_t(slot.offset + done))
                if count <= 0 {
                    if count < 0, errno == EINTR { continue }
                    return false
                }
                done += count
            }
            return true
        }
        guard complete else { throw MediaError.corrupt("the frame spill \(spillPath) could not be read back") }
        return try Frame(
            width: slot.width, height: slot.height, stride: slot.stride, pixelFormat: slot.format,
            presentationTime: slot.time, pixels: pixels)
    }

    private func pwriteAll(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var done = 0
        while done < bytes.count {
            let count = pwrite(spillDescriptor, base + done, bytes.count - done, off_t(offset + done))
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            done += count
        }
        return true
    }
}
