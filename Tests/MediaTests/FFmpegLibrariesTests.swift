import Media
import Testing

@Suite struct FFmpegLibrariesTests {
    @Test func reportsLoadedLibrariesAndEncoders() {
        let libraries = FFmpegLibraries.loaded()
        #expect(libraries.libraries.map(\.name) == ["libavformat", "libavcodec", "libavutil", "libswscale", "libswresample"])
        for library in libraries.libraries {
            let parts = library.version.split(separator: ".")
            #expect(parts.count == 3 && parts.allSatisfy { Int($0) != nil }, "\(library.name) \(library.version)")
        }
        #expect(!libraries.release.isEmpty)
        #expect(libraries.hasH264Encoder, "libx264 is required for output video")
        #expect(libraries.hasAACEncoder)
    }
}
