import Foundation

/// The memory this process may use: the machine's, or its control group's limit when that
/// is lower (a container with `--memory`).
public enum SystemMemory {
    public static var limit: Int {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        return min(physical, cgroupLimit() ?? physical)
    }

    /// cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes`; nil when unlimited or unreadable.
    static func cgroupLimit(root: String = "/sys/fs/cgroup") -> Int? {
        for file in ["\(root)/memory.max", "\(root)/memory/memory.limit_in_bytes"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            return parseLimit(text)
        }
        return nil
    }

    /// A limit file's content: a byte count, or `max` (v2) / a huge number (v1) for none.
    static func parseLimit(_ text: String) -> Int? {
        guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), value > 0, value < 1 << 60 else { return nil }
        return value
    }
}
