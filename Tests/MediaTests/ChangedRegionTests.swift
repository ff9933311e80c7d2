import Testing

@testable import Media

/// Frames that keep their decoder's picture (`DecodeOptions.keepsCodedPicture`) and the
/// encoder's input made from it (`ChangedRegionConverter`): the decoder's planes where nothing
/// changed, the whole-frame conversion's values where something did.
@Suite struct ChangedRegionTests {
    static let (width, height) = (160, 96)

    /// The first frames of a synthetic clip, decoded keeping the decoder's pictures (or not).
    func decoded(count: Int = 2, keeping: Bool = true, rotation: Int = 0) throws -> [Frame] {
        let directory = try TemporaryDirectory()
        let path = directory.file("clip.mp4")
        try SyntheticMedia.writeClip(
            to: path, width: Self.width, height: Self.height, frameCount: count, options: EncoderOptions(displayRotation: rotation))
        return try VideoDecoder(path: path, options: DecodeOptions(keepsCodedPicture: keeping)).frames(upTo: count).map(\.frame)
    }

    /// Writes a pattern that differs from the picture over `rect`, telling the frame where.
    func change(_ frame: inout Frame, x: Int, y: Int, width: Int, height: Int) {
        let stride = frame.stride
        frame.withUnsafeMutablePixels(changing: x, y: y, width: width, height: height) { pixels in
            for row in y..<(y + height) {
                for column in x..<(x + width) {
                    let offset = row * stride + column * 3
                    pixels[offset] = UInt8(truncatingIfNeeded: column * 7)
                    pixels[offset + 1] = UInt8(truncatingIfNeeded: row * 5 + column)
                    pixels[offset + 2] = 255 - pixels[offset + 1]
                }
            }
        }
    }

    @Test func framesKeepTheDecodersPictureOnlyWhenAskedAndUpright() throws {
        let kept = try #require(try decoded(count: 1).first)
        let coded = try #require(kept.coded)
        #expect(coded.isYUV420P && coded.width == Self.width && coded.height == Self.height)
        #expect(kept.changed == nil)
        #expect(try decoded(count: 1, keeping: false).first?.coded == nil)
        #expect(try decoded(count: 1, rotation: 90).first?.coded == nil)  // its planes are not the upright frame's
    }

    @Test func anUnchangedFrameIsEncodedFromTheDecodersPlanesExactly() throws {
        for frame in try decoded() {
            let coded = try #require(frame.coded)
            #expect(try ChangedRegionConverter.yuv420Planes(of: frame) == coded.packedPlanes)
        }
    }

    @Test(arguments: [(37, 21, 50, 30), (0, 0, 9, 5), (120, 70, 40, 26), (151, 3, 9, 93)])
    func onlyTheChangedRectangleIsConvertedBack(x: Int, y: Int, width: Int, height: Int) throws {
        var frame = try #require(try decoded(count: 1).first)
        let original = try #require(frame.coded).packedPlanes
        change(&frame, x: x, y: y, width: width, height: height)
        #expect(frame.changed == PixelRect(x: x, y: y, width: width, height: height))
        let region = ChangedRegionConverter.region(around: try #require(frame.changed), width: Self.width, height: Self.height)
        #expect(region.x % 2 == 0 && region.y % 2 == 0 && region.width % 2 == 0 && region.height % 2 == 0)
        #expect(region.x <= x && region.y <= y && region.maxX >= x + width && region.maxY >= y + height)
        let planes = try #require(try ChangedRegionConverter.yuv420Planes(of: frame))
        let whole = try ThreadedScaler.yuv420Planes(of: frame, threads: 1)
        var worst = [0, 0, 0]
        var offset = 0
        for (plane, scale) in [1, 2, 2].enumerated() {
            let (planeWidth, planeHeight) = (Self.width / scale, Self.height / scale)
            for row in 0..<planeHeight {
                for column in 0..<planeWidth {
                    let index = offset + row * planeWidth + column
                    let (u, v) = (column * scale, row * scale)
                    if (region.x..<region.maxX).contains(u) && (region.y..<region.maxY).contains(v) {
                        worst[plane] = max(worst[plane], abs(Int(planes[index]) - Int(whole[index])))
                    } else {
                        #expect(planes[index] == original[index], "plane \(plane) (\(column), \(row)) outside the region")
                    }
                }
            }
            offset += planeWidth * planeHeight
        }
        // Luma is converted pixel by pixel; chroma filters read past the region's edge, where
        // the whole frame has neighbours and the region repeats its border.
        #expect(worst[0] == 0 && worst[1] <= 1 && worst[2] <= 1, "largest difference per plane: \(worst)")
    }

    @Test func aChangeThatDoesNotSayWhereDropsThePicture() throws {
        var frame = try #require(try decoded(count: 1).first)
        frame.withUnsafeMutablePixels { $0[0] = 0 }
        #expect(frame.coded == nil)
        #expect(try ChangedRegionConverter.yuv420Planes(of: frame) == nil)  // converted whole instead
    }

    @Test func changesAddUpAndAreClippedToTheFrame() throws {
        var frame = try #require(try decoded(count: 1).first)
        change(&frame, x: 100, y: 50, width: 4, height: 4)
        try frame.paste(SyntheticMedia.frame(width: 8, height: 8, index: 0), x: 10, y: 12)
        #expect(frame.changed == PixelRect(x: 10, y: 12, width: 94, height: 42))
        var edge = try #require(try decoded(count: 1).first)
        edge.withUnsafeMutablePixels(changing: -5, y: 90, width: 10, height: 20) { _ in }
        #expect(edge.changed == PixelRect(x: 0, y: 90, width: 5, height: 6))
        var outside = try #require(try decoded(count: 1).first)
        outside.withUnsafeMutablePixels(changing: 200, y: 0, width: 10, height: 10) { _ in }
        #expect(outside.changed == nil && outside.coded != nil)
    }

    @Test func equalFramesNeedNotShareAPicture() throws {
        let frame = try #require(try decoded(count: 1).first)
        let copy = try Frame(
            width: frame.width, height: frame.height, stride: frame.stride, presentationTime: frame.presentationTime, pixels: frame.pixels)
        #expect(copy.coded == nil && frame.coded != nil && copy == frame)
    }

    @Test func aFrameWithoutSpareBytesIsReadFromACopyAtTheBottomEdge() throws {
        var frame = try #require(try decoded(count: 1).first)
        change(&frame, x: 140, y: 80, width: 20, height: 16)
        var tight = try Frame(width: frame.width, height: frame.height, stride: frame.stride, pixels: Array(frame.pixels))
        tight.coded = frame.coded
        tight.changed = frame.changed
        #expect(try ChangedRegionConverter.yuv420Planes(of: tight) == ChangedRegionConverter.yuv420Planes(of: frame))
    }

    /// The file is as faithful as one encoded from whole-frame conversions (the changed
    /// pattern is fine-grained, so chroma subsampling alone costs both ~30 dB).
    @Test func aWriterEncodesKeptPicturesAndTheirChanges() throws {
        let directory = try TemporaryDirectory()
        var frames = try decoded(count: 4)
        for index in frames.indices { change(&frames[index], x: 30 + index * 8, y: 20, width: 40, height: 40) }
        func written(_ frames: [Frame], name: String) throws -> [Frame] {
            let path = directory.file(name)
            let writer = try MediaWriter(
                path: path, video: VideoFormat(width: Self.width, height: Self.height, frameRate: Rational(25, 1)), audio: nil)
            for frame in frames { try writer.append(frame) }
            try writer.finish()
            return try VideoDecoder(path: path).allFrames().map(\.frame)
        }
        let kept = try written(frames, name: "kept.mp4")
        let whole = try written(
            frames.map { try Frame(width: $0.width, height: $0.height, stride: $0.stride, pixels: $0.pixels) }, name: "whole.mp4")
        #expect(kept.count == frames.count && whole.count == frames.count)
        for ((out, reference), frame) in zip(zip(kept, whole), frames) {
            let (keptPSNR, wholePSNR) = (SyntheticMedia.psnr(out, frame), SyntheticMedia.psnr(reference, frame))
            #expect(keptPSNR > 25 && keptPSNR > wholePSNR - 0.5, "kept \(keptPSNR) dB, whole \(wholePSNR) dB")
        }
    }
}
