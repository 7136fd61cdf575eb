import Foundation
import HabarCore

/// Refuses webhook targets on link-local and cloud-metadata addresses (SSRF): a subscriber
/// URL must not make the gateway read `http://169.254.169.254/…` on its own host.
enum AddressGuard {
    /// Why `host` may not be called, or nil. Host names are resolved (off the cooperative
    /// threads) and every address they resolve to is checked.
    static func refusal(host: String) async -> String? {
        let lowered = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if ["metadata.google.internal", "metadata", "instance-data"].contains(lowered) { return "\(host) is a cloud metadata service" }
        if let reason = refusal(address: lowered) { return reason }
        if isLiteral(lowered) { return nil }
        for address in await resolve(lowered) {
            if let reason = refusal(address: address) { return "\(host) resolves to \(address): \(reason)" }
        }
        return nil
    }

    static func isLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Link-local (169.254.0.0/16, fe80::/10), "this network" (0.0.0.0/8) and known metadata
    /// addresses (100.100.100.200, fd00:ec2::254).
    static func refusal(address: String) -> String? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            let bytes = withUnsafeBytes(of: v4.s_addr) { Array($0) }
            if bytes[0] == 169 && bytes[1] == 254 { return "\(address) is link-local (169.254.0.0/16)" }
            if bytes[0] == 0 { return "\(address) is not a host address" }
            if address == "100.100.100.200" { return "\(address) is a cloud metadata service" }
            return nil
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, address, &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            if bytes[0] == 0xFE && (bytes[1] & 0xC0) == 0x80 { return "\(address) is link-local (fe80::/10)" }
            if address == "fd00:ec2::254" { return "\(address) is a cloud metadata service" }
            // IPv4-mapped (::ffff:a.b.c.d): check the IPv4 address.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return refusal(address: "\(bytes[12]).\(bytes[13]).\(bytes[14]).\(bytes[15])")
            }
        }
        return nil
    }

    static func resolve(_ host: String) async -> [String] {
        await DedicatedThread.run("habar.dns") {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, nil, &hints, &result) == 0 else { return [] }
                defer { freeaddrinfo(result) }
                var addresses: [String] = []
                var cursor = result
                while let info = cursor {
                    var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                        addresses.append(String(cString: buffer))
                    }
                    cursor = info.pointee.ai_next
                }
                return addresses
        }
    }
}
