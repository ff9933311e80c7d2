import Foundation
import Testing

@testable import Media

/// What an input file may make FFmpeg open: the file itself, through the `file` protocol,
/// with an accepted demuxer — never another file, a device or a URL named inside it.
@Suite struct InputFileTests {
    /// A playlist saved under a video's name that points at a real clip elsewhere on the
    /// machine: FFmpeg's HLS demuxer would read that clip and the server would render it.
    @Test func hlsPlaylistUnderAVideoNameIsRefused() throws {
        let directory = try TemporaryDirectory()
        let secret = directory.file("elsewhere.mp4")
        try SyntheticMedia.writeClip(to: secret, frameCount: 5)
        let playlist = """
            #EXTM3U
            #EXT-X-VERSION:3
            #EXT-X-TARGETDURATION:1
            #EXTINF:1.0,
            \(secret)
            #EXTINF:1.0,
            file://\(secret)
            #EXT-X-ENDLIST

            """
        let input = directory.file("input.mp4")
        try playlist.write(toFile: input, atomically: true, encoding: .utf8)
        for open in Self.openers {
            #expect(throws: MediaError.notMediaFile(reason: "the container 'hls' is not accepted")) { try open(input) }
        }
    }

    /// A concat list naming itself: FFmpeg would open it again and again until it ran out of
    /// descriptors. Refused by name before any nested open.
    @Test func concatListNamingItselfIsRefused() throws {
        let directory = try TemporaryDirectory()
        let input = directory.file("clip.mp4")
        try "ffconcat version 1.0\nfile '\(input)'\nfile '\(input)'\n".write(toFile: input, atomically: true, encoding: .utf8)
        for open in Self.openers {
            #expect(throws: MediaError.notMediaFile(reason: "the container 'concat' is not accepted")) { try open(input) }
        }
    }

    /// Other text formats that name files: SDP (network streams), FFmpeg's own metadata.
    @Test func otherReferencingFormatsAreRefused() throws {
        let directory = try TemporaryDirectory()
        let sdp = directory.file("a.mp4")
        try "v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=video 5004 RTP/AVP 96\na=rtpmap:96 H264/90000\n"
            .write(toFile: sdp, atomically: true, encoding: .utf8)
        #expect(throws: MediaError.self) { try MediaProbe.probe(sdp) }
        let error = #expect(throws: MediaError.self) { try MediaProbe.probe(sdp) }
        #expect("\(String(describing: error))".contains("not accepted") || "\(String(describing: error))".contains("not a video or audio"))
    }

    /// A FIFO (or a device) would block the open or never end: only regular files are read.
    @Test func fifosAndDevicesAreRefusedAtOnce() throws {
        let directory = try TemporaryDirectory()
        let fifo = directory.file("pipe.mp4")
        #expect(mkfifo(fifo, 0o600) == 0)
        for path in [fifo, "/dev/zero", "/dev/urandom"] {
            #expect(throws: MediaError.notMediaFile(reason: "not a regular file")) { try MediaProbe.probe(path) }
        }
        #expect(throws: MediaError.fileNotFound(path: directory.path + "/missing.mp4")) {
            try MediaProbe.probe(directory.path + "/missing.mp4")
        }
    }

    /// A name that looks like another protocol is still this local file.
    @Test func namesWithColonsAreLocalFiles() throws {
        let directory = try TemporaryDirectory()
        let odd = directory.file("concat:x|y.mp4")
        try SyntheticMedia.writeClip(to: odd, frameCount: 5)
        #expect(try MediaProbe.probe(odd).video?.frameCount == 5)
        let cwd = FileManager.default.currentDirectoryPath
        #expect(FileManager.default.changeCurrentDirectoryPath(directory.path))
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        #expect(try MediaProbe.probe("concat:x|y.mp4").video?.frameCount == 5)
    }

    /// The containers people send still open: MP4, MOV, WebM, WAV, and photos as stills.
    @Test func acceptedContainersStillOpen() throws {
        let directory = try TemporaryDirectory()
        try SyntheticMedia.writeClip(to: directory.file("a.mp4"), frameCount: 3)
        try SyntheticMedia.writeClip(
            to: directory.file("a.webm"), frameCount: 3,
            options: EncoderOptions(container: .webm, videoCodec: .vp9, audioCodec: .opus, crf: 30))
        try WAVFile.write(SyntheticMedia.tone(frequency: 200, seconds: 0.3, sampleRate: 16_000), to: directory.file("a.wav"))
        #expect(try MediaProbe.probe(directory.file("a.mp4")).video != nil)
        #expect(try MediaProbe.probe(directory.file("a.webm")).video != nil)
        #expect(try AudioDecoder.decode(directory.file("a.wav")).duration > 0.25)
        #expect(InputFile.accepts("mov,mp4,m4a,3gp,3g2,mj2") && InputFile.accepts("matroska,webm") && InputFile.accepts("png_pipe"))
        for refused in ["hls", "concat", "image2", "dash", "v4l2", "lavfi", "sdp", "rtsp", "ffmetadata", "tee"] {
            #expect(!InputFile.accepts(refused), "\(refused)")
        }
    }

    static let openers: [@Sendable (String) throws -> Void] = [
        { _ = try MediaProbe.probe($0) },
        { _ = try VideoDecoder(path: $0) },
        { _ = try AudioDecoder.decode($0) },
        { _ = try StillImage.decode($0) },
    ]
}
