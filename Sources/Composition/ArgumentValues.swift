public import ArgumentParser
import LipSync
import Pipeline
import Speech
import VoiceConversion

// The jobs' option values as command-line arguments: the same words as in a request and
// the DEFAULT_* settings (JobOverrides), listed by --help.
extension TrackingChoice: ExpressibleByArgument {}
extension CompositeMode: ExpressibleByArgument {}
extension FrameOrder: ExpressibleByArgument {}
extension SpeechEngineID: ExpressibleByArgument {}
extension VoiceMode: ExpressibleByArgument {}
extension ModelPrecision: ExpressibleByArgument {}
