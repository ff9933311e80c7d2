import Foundation

/// Which IP addresses an https:// input may be fetched from: public unicast only. Refused:
/// loopback, private (RFC 1918, IPv6 ULA), link-local (169.254/16 with the cloud metadata
/// address, fe80::/10), shared/CGNAT, "this network", multicast, reserved, documentation and
/// benchmarking ranges, and IPv6 forms that embed an IPv4 address which is itself refused.
public struct AddressPolicy: Sendable {
    /// Addresses treated as public although they are not (tests use this for a loopback
    /// server that plays a public host). Empty in production.
    public let treatedAsPublic: Set<String>

    public init(treatedAsPublic: Set<String> = []) {
        self.treatedAsPublic = treatedAsPublic
    }

    /// Why `address` is refused, or nil when it is public. Unparseable text is refused.
    public func refusal(_ address: String) -> String? {
        if treatedAsPublic.contains(address) { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return Self.refusal(ipv4: [UInt8](withUnsafeBytes(of: v4.s_addr) { Array($0) }))
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 {
            return Self.refusal(ipv6: withUnsafeBytes(of: v6) { Array($0) })
        }
        return "not an IP address"
    }

    static func refusal(ipv4 b: [UInt8]) -> String? {
        switch (b[0], b[1], b[2]) {
        case (0, _, _): "a 'this network' address (0.0.0.0/8)"
        case (10, _, _): "a private address (10.0.0.0/8)"
        case (100, 64...127, _): "a shared/carrier-grade NAT address (100.64.0.0/10)"
        case (127, _, _): "a loopback address (127.0.0.0/8)"
        case (169, 254, _): "a link-local address (169.254.0.0/16, cloud metadata lives here)"
        case (172, 16...31, _): "a private address (172.16.0.0/12)"
        case (192, 0, 0): "an IETF protocol address (192.0.0.0/24)"
        case (192, 0, 2), (198, 51, 100), (203, 0, 113): "a documentation address"
        case (192, 168, _): "a private address (192.168.0.0/16)"
        case (198, 18...19, _): "a benchmarking address (198.18.0.0/15)"
        case (224...239, _, _): "a multicast address"
        case (240...255, _, _): "a reserved or broadcast address"
        default: nil
        }
    }

    static func refusal(ipv6 b: [UInt8]) -> String? {
        let embedded = Array(b[12..<16])
        if b[0..<15].allSatisfy({ $0 == 0 }) { return b[15] == 1 ? "the IPv6 loopback address" : "the unspecified IPv6 address" }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
            return refusal(ipv4: embedded).map { "an IPv4-mapped address of " + $0 }
        }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return "an IPv4-compatible IPv6 address (deprecated)" }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4..<12].allSatisfy({ $0 == 0 }) {
            return refusal(ipv4: embedded).map { "a NAT64 address of " + $0 }
        }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0x00 && b[5] == 0x01 {
            return "a local-use NAT64 address (64:ff9b:1::/48, RFC 8215)"
        }
        if b[0] & 0xFE == 0xFC { return "a unique local IPv6 address (fc00::/7)" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return "a link-local IPv6 address (fe80::/10)" }
        if b[0] == 0xFE && b[1] & 0xC0 == 0xC0 { return "a site-local IPv6 address (fec0::/10)" }
        if b[0] == 0xFF { return "a multicast IPv6 address" }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return "a documentation IPv6 address (2001:db8::/32)" }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00 { return "a Teredo tunnel address (2001::/32)" }
        if b[0] == 0x20 && b[1] == 0x02 { return "a 6to4 address (2002::/16)" }
        if b[0] == 0x01 && b[1] == 0x00 && b[2..<8].allSatisfy({ $0 == 0 }) { return "a discard-only IPv6 address (100::/64)" }
        return nil
    }
}

/// Turns a host name into IP addresses (getaddrinfo, off the cooperative threads).
public protocol HostResolver: Sendable {
    func addresses(of host: String) async throws -> [String]
}

public struct SystemResolver: HostResolver {
    public init() {}

    public func addresses(of host: String) async throws -> [String] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(host, nil, &hints, &list)
                guard status == 0 else {
                    continuation.resume(
                        throwing: StorageError.upstream(
                            host, status: nil, message: "cannot resolve host: \(String(cString: gai_strerror(status)))"))
                    return
                }
                defer { freeaddrinfo(list) }
                var found: [String] = []
                var node = list
                while let entry = node?.pointee {
                    var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    if getnameinfo(entry.ai_addr, entry.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 {
                        let address = String(cString: text)
                        if !found.contains(address) { found.append(address) }
                    }
                    node = entry.ai_next
                }
                continuation.resume(returning: found)
            }
        }
    }
}
