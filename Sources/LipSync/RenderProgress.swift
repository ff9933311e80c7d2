/// How far a render has come: output frames written of the frames it will write.
public struct RenderProgress: Sendable, Equatable {
    public var framesDone: Int
    public var framesTotal: Int

    public init(framesDone: Int, framesTotal: Int) {
        self.framesDone = framesDone
        self.framesTotal = framesTotal
    }

    public var fraction: Double { framesTotal > 0 ? Double(framesDone) / Double(framesTotal) : 0 }
}
