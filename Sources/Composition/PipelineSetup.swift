import AsyncHTTPClient
import Foundation
public import Inference
public import JobQueue
import LipSync
public import Logging
import Media
public import Pipeline

/// The model registry: builds the whole pipeline from a models folder — every model loaded
/// once — and reports what was loaded. With a job `store`, the per-video cache is shared
/// through it with every process on the same store.
public enum PipelineSetup {
    public static func makePipeline(
        _ configuration: Configuration, environment: InferenceEnvironment, detector: DetectorChoice = .blazeface,
        precision: ModelPrecision = .float32, store: JobStore? = nil, logger: Logger = Logger(label: "lipsync.models")
    ) throws -> LipSyncPipeline {
        let clock = ContinuousClock()
        let start = clock.now
        let voice = try VoiceSetup.makeConverter(configuration, environment: environment, precision: precision, logger: logger)
        let renderer = try LipSyncSetup.makeRenderer(
            configuration, environment: environment, detector: detector, precision: precision, logger: logger)
        var pipeline = LipSyncPipeline(
            speech: try SpeechSetup.makeService(configuration, environment: environment, httpClient: .shared),
            voice: voice, renderer: renderer, limits: configuration.mediaLimits,
            cache: configuration.videoCacheEntries > 0
                ? VideoCache(
                    capacity: configuration.videoCacheEntries,
                    shared: store.map { StoreVideoCache(store: $0, capacity: configuration.videoCacheEntries, logger: logger) })
                : nil)
        pipeline.memory = JobMemoryModel(fastModelMemory: configuration.modelMemory == .fast)
        let manifest = try ModelManifest(directory: configuration.modelsDirectory, verifyHashes: configuration.verifyModels)
        var kinds = ["wav2lip_mel", precision.generatorKind, detector.rawValue]
        if voice != nil { kinds += VoiceSetup.kinds(manifest, precision: precision) }
        let models = try kinds.map { kind in
            let entry = try manifest.entry(kind)
            return ModelReport.Model(
                kind: kind, file: entry.file, precision: entry.precision, standin: entry.standin,
                checkpoint: entry.source?["checkpoint"], sha256: entry.sha256,
                sha256Verified: manifest.verifiesHashes)
        }
        pipeline.models = ModelReport(
            provider: renderer.generator.session.activeProvider.description, models: models,
            loadSeconds: (clock.now - start).seconds)
        logger.info(
            "models loaded",
            metadata: [
                "folder": "\(configuration.modelsDirectory)", "provider": "\(pipeline.models.provider)",
                "seconds": "\(String(format: "%.2f", pipeline.models.loadSeconds ?? 0))",
                "voice_conversion": "\(voice == nil ? "none" : "freevc")",
                "standins": "\(models.filter(\.standin).map(\.kind).joined(separator: ","))",
            ])
        return pipeline
    }
}
