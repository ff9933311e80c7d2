import Foundation
import Testing

@testable import Composition

@Suite struct SystemMemoryTests {
    @Test func limitFiles() throws {
        #expect(SystemMemory.parseLimit("max\n") == nil)
        #expect(SystemMemory.parseLimit("536870912\n") == 536_870_912)
        #expect(SystemMemory.parseLimit("9223372036854771712") == nil)  // cgroup v1's "no limit"
        #expect(SystemMemory.parseLimit("") == nil && SystemMemory.parseLimit("-1") == nil && SystemMemory.parseLimit("12abc") == nil)

        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cgroup-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/memory", withIntermediateDirectories: true)
        #expect(SystemMemory.cgroupLimit(root: root) == nil)
        try "1073741824\n".write(toFile: root + "/memory/memory.limit_in_bytes", atomically: true, encoding: .utf8)
        #expect(SystemMemory.cgroupLimit(root: root) == 1 << 30)  // v1
        try "max\n".write(toFile: root + "/memory.max", atomically: true, encoding: .utf8)
        #expect(SystemMemory.cgroupLimit(root: root) == nil)  // v2 first: unlimited
    }
}
