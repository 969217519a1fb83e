/// Decodes one captured frame into a `DecodedPacket` without copying or allocating: link layer (Ethernet with
/// 802.1Q/802.1ad stacks, PPPoE, Linux SLL/SLL2, raw IP, BSD null/loop, PPP, MPLS), IPv4/IPv6 with extension headers and
/// tunnels (IP-in-IP, 6in4, GRE), then TCP, UDP, ICMP/ICMPv6 including the datagram an ICMP error quotes.
///
/// Every frame ends in exactly one `PacketStatus`. A layer that fails leaves the fields decoded so far in place (e.g. the
/// IP summary of a packet whose TCP header is cut by the snaplen), so `packets` output can still show them.
public struct PacketDecoder: Sendable {
    /// Verify IPv4 header, TCP, UDP and ICMP checksums (cheap: wide-word sum over bytes already in cache).
    public var verifyChecksums: Bool
    public static let maxVLANDepth = 8
    public static let maxMPLSDepth = 16
    public static let maxTunnelDepth = 4

    public init(verifyChecksums: Bool = true) { self.verifyChecksums = verifyChecksums }

    /// Decodes `bytes` (the captured part of the frame) of link type `linkType`.
    public func decode(_ bytes: UnsafeRawBufferPointer, frame: FrameNumber, timestamp: Timestamp, wireLength: Int,
                       linkType: LinkType) -> DecodedPacket {
        var p = DecodedPacket(frame: frame, timestamp: timestamp, capturedLength: bytes.count, wireLength: wireLength,
                              linkType: linkType)
        if bytes.count < wireLength { p.flags.insert(.snapTruncated) }
        do {
            try decodeLink(bytes, linkType, &p)
        } catch {
            p.status = error
        }
        return p
    }

    /// Decodes a bare IPv4/IPv6 datagram (e.g. one reassembled from fragments). `frame` is the frame that completed it.
    public func decodeDatagram(_ bytes: UnsafeRawBufferPointer, frame: FrameNumber, timestamp: Timestamp) -> DecodedPacket {
        var p = DecodedPacket(frame: frame, timestamp: timestamp, capturedLength: bytes.count, wireLength: bytes.count,
                              linkType: .raw)
        p.flags.insert(.reassembled)
        do { try decodeIP(bytes, 0, depth: 0, &p) } catch { p.status = error }
        return p
    }

    // MARK: - Link layer

    @inline(__always)
    func decodeLink(_ b: UnsafeRawBufferPointer, _ lt: LinkType, _ p: inout DecodedPacket) throws(PacketStatus) {
        switch lt.rawValue {
        case 1:
            guard b.count >= 14 else { throw .truncated(.ethernet) }
            try decodeEtherType(b.be16(12), b, 14, depth: 0, &p)
        case 101, 12, 14:
            try decodeIPByVersion(b, 0, depth: 0, &p)
        case 228:
            try decodeIP(b, 0, depth: 0, forceVersion: 4, &p)
        case 229:
            try decodeIP(b, 0, depth: 0, forceVersion: 6, &p)
        case 0, 108:
            guard b.count >= 4 else { throw .truncated(.null) }
            // DLT_NULL is in the capturing host's byte order; DLT_LOOP in network order.
            var family = lt.rawValue == 108 ? b.be32(0) : b.le32(0)
            if lt.rawValue == 0 && family > 0xffff { family = b.be32(0) }
            switch family {
            case 2: try decodeIP(b, 4, depth: 0, forceVersion: 4, &p)
            case 10, 24, 28, 30: try decodeIP(b, 4, depth: 0, forceVersion: 6, &p)
            default: throw PacketStatus(kind: .unsupportedNullFamily, number: family)
            }
        case 9, 50:
            var off = 0
            guard b.count >= 2 else { throw .truncated(.ppp) }
            if b[0] == 0xff && b[1] == 0x03 { off = 2 }
            try decodePPP(b, off, depth: 0, &p)
        case 51:
            try decodePPPoESession(b, 0, depth: 0, &p)
        case 113:
            guard b.count >= 16 else { throw .truncated(.sll) }
            try decodeSLLProtocol(b.be16(14), hatype: b.be16(2), b, 16, &p)
        case 276:
            guard b.count >= 20 else { throw .truncated(.sll2) }
            try decodeSLLProtocol(b.be16(0), hatype: b.be16(8), b, 20, &p)
        default:
            throw PacketStatus(kind: .unsupportedLinkType, number: lt.rawValue)
        }
    }

    func decodeSLLProtocol(_ proto: UInt16, hatype: UInt16, _ b: UnsafeRawBufferPointer, _ off: Int,
                           _ p: inout DecodedPacket) throws(PacketStatus) {
        // Linux cooked capture: protocol is an EtherType, except for a few ARPHRD/ETH_P values.
        if proto == 0x0004 || proto < 0x0600 { throw PacketStatus(kind: .unsupportedLLC) }
        try decodeEtherType(proto, b, off, depth: 0, &p)
    }

    /// Dispatch on an EtherType (IEEE 802.3 / IANA). `depth` bounds VLAN and MPLS stacks.
    func decodeEtherType(_ type: UInt16, _ b: UnsafeRawBufferPointer, _ off: Int, depth: Int,
                         _ p: inout DecodedPacket) throws(PacketStatus) {
        p.etherType = type
        switch type {
        case 0x0800: try decodeIP(b, off, depth: 0, forceVersion: 4, &p)
        case 0x86dd: try decodeIP(b, off, depth: 0, forceVersion: 6, &p)
        case 0x8100, 0x88a8, 0x9100, 0x9200:
            guard depth < PacketDecoder.maxVLANDepth else { throw .malformed(.vlan, .tooDeep) }
            guard b.count >= off + 4 else { throw .truncated(.vlan) }
            let vid = b.be16(off) & 0x0fff
            switch p.vlanCount {
            case 0: p.vlanIDs.0 = vid
            case 1: p.vlanIDs.1 = vid
            case 2: p.vlanIDs.2 = vid
            case 3: p.vlanIDs.3 = vid
            default: break
            }
            p.vlanCount &+= 1
            try decodeEtherType(b.be16(off + 2), b, off + 4, depth: depth + 1, &p)
        case 0x8864:
            try decodePPPoESession(b, off, depth: depth, &p)
        case 0x8863:
            guard b.count >= off + 6 else { throw .truncated(.pppoe) }
            p.pppoeSession = b.be16(off + 2)
            p.flags.insert(.pppoeDiscovery)
        case 0x8847, 0x8848:
            try decodeMPLS(b, off, &p)
        case 0x0806, 0x8035:
            p.flags.insert(.arp)
        default:
            if type < 0x0600 { throw PacketStatus(kind: .unsupportedLLC) }
            throw PacketStatus(kind: .unsupportedEtherType, number: UInt32(type))
        }
    }

    /// PPPoE session stage (RFC 2516 §4): ver/type, code, session id, length, then a PPP protocol field.
    func decodePPPoESession(_ b: UnsafeRawBufferPointer, _ off: Int, depth: Int, _ p: inout DecodedPacket) throws(PacketStatus) {
        guard b.count >= off + 6 else { throw .truncated(.pppoe) }
        guard b[off] == 0x11 else { throw .malformed(.pppoe, .badVersion) }
        p.pppoeSession = b.be16(off + 2)
        try decodePPP(b, off + 6, depth: depth, &p)
    }

    /// PPP protocol field (RFC 1661 §2; a 1-byte compressed field when the first byte is odd, RFC 1661 §6.5).
    func decodePPP(_ b: UnsafeRawBufferPointer, _ off: Int, depth: Int, _ p: inout DecodedPacket) throws(PacketStatus) {
        guard b.count >= off + 1 else { throw .truncated(.ppp) }
        var proto: UInt16
        var next: Int
        if b[off] & 1 == 1 {
            proto = UInt16(b[off]); next = off + 1
        } else {
            guard b.count >= off + 2 else { throw .truncated(.ppp) }
            proto = b.be16(off); next = off + 2
        }
        switch proto {
        case 0x0021: try decodeIP(b, next, depth: 0, forceVersion: 4, &p)
        case 0x0057: try decodeIP(b, next, depth: 0, forceVersion: 6, &p)
        case 0x0281, 0x0283: try decodeMPLS(b, next, &p)
        case 0xc021, 0x8021, 0x8057, 0xc023, 0xc223, 0x80fd, 0xc025: return   // link control, auth, CCP: link-only
        default: throw PacketStatus(kind: .unsupportedPPP, number: UInt32(proto))
        }
    }

    /// MPLS label stack (RFC 3032 §2.1); the payload after bottom-of-stack is guessed by IP version nibble.
    func decodeMPLS(_ b: UnsafeRawBufferPointer, _ start: Int, _ p: inout DecodedPacket) throws(PacketStatus) {
        var off = start
        while true {
            guard b.count >= off + 4 else { throw .truncated(.mpls) }
            let entry = b.be32(off)
            off += 4
            p.mplsDepth &+= 1
            if entry & 0x100 != 0 { break }
            guard p.mplsDepth < PacketDecoder.maxMPLSDepth else { throw .malformed(.mpls, .tooDeep) }
        }
        try decodeIPByVersion(b, off, depth: 0, &p)
    }

    // MARK: - Network layer

    func decodeIPByVersion(_ b: UnsafeRawBufferPointer, _ off: Int, depth: Int, _ p: inout DecodedPacket) throws(PacketStatus) {
        guard b.count > off else { throw .truncated(.ipv4) }
        switch b[off] >> 4 {
        case 4: try decodeIP(b, off, depth: depth, forceVersion: 4, &p)
        case 6: try decodeIP(b, off, depth: depth, forceVersion: 6, &p)
        default: throw PacketStatus(kind: .unsupportedIPVersion, number: UInt32(b[off] >> 4))
        }
    }

    func decodeIP(_ frame: UnsafeRawBufferPointer, _ off: Int, depth: Int, forceVersion: UInt8 = 0,
                  _ p: inout DecodedPacket) throws(PacketStatus) {
        let b = frame.dropping(min(off, frame.count))
        let version = forceVersion != 0 ? forceVersion : (b.count > 0 ? b[0] >> 4 : 4)
        if version == 6 { try decodeIPv6(frame, off, b, depth: depth, &p) } else { try decodeIPv4(frame, off, b, depth: depth, &p) }
    }

    func decodeIPv4(_ frame: UnsafeRawBufferPointer, _ off: Int, _ b: UnsafeRawBufferPointer, depth: Int,
                    _ p: inout DecodedPacket) throws(PacketStatus) {
        let ip = try IPv4View(validating: b)
        let hl = ip.headerLength
        let (rr, _) = hl > 20 ? ip.optionSummary() : (0, true)
        let frag = ip.fragmentOffset
        var s = IPSummary(version: 4, src: ip.src, dst: ip.dst, ttl: ip.ttl, ipID: UInt32(ip.identification),
                          df: ip.dontFragment, moreFragments: ip.moreFragments, fragmentOffset: frag,
                          isFragment: ip.moreFragments || frag != 0, hasFragmentHeader: false, proto: ip.proto,
                          tos: ip.tos, totalLength: ip.totalLength, headerLength: UInt16(hl),
                          headerChecksum: .unverified, hasOptions: hl > 20, recordRouteCount: rr, headerOffset: off,
                          tunnelDepth: UInt8(depth), flowLabel: 0)
        if verifyChecksums {
            s.headerChecksum = ip.headerChecksumValid ? .good : .bad
            if s.headerChecksum == .bad { p.flags.insert(.badIPChecksum) }
        }
        if s.isFragment { p.flags.insert(.fragment) }
        p.ip = s
        // Total length 0 (segmentation offload): the datagram runs to the end of the frame as sent on the wire.
        let declaredEnd = ip.totalLength == 0 ? b.count + max(0, p.wireLength - p.capturedLength) : Int(ip.totalLength)
        let end = ip.capturedEnd
        if declaredEnd > b.count && !p.flags.contains(.snapTruncated) { throw .truncated(.ipv4) }
        let payload = b.slice(hl..<end)
        let payloadDeclared = declaredEnd - hl
        try decodeUpper(frame, off + hl, payload, declared: payloadDeclared, proto: ip.proto,
                        nonFirstFragment: frag != 0, depth: depth, &p)
    }

    func decodeIPv6(_ frame: UnsafeRawBufferPointer, _ off: Int, _ b: UnsafeRawBufferPointer, depth: Int,
                    _ p: inout DecodedPacket) throws(PacketStatus) {
        let ip = try IPv6View(validating: b)
        var s = IPSummary(version: 6, src: ip.src, dst: ip.dst, ttl: ip.hopLimit, ipID: 0, df: false,
                          moreFragments: false, fragmentOffset: 0, isFragment: false, hasFragmentHeader: false,
                          proto: ip.nextHeader, tos: ip.trafficClass, totalLength: 40 &+ ip.payloadLength,
                          headerLength: 40, headerChecksum: .unverified, hasOptions: false, recordRouteCount: 0,
                          headerOffset: off, tunnelDepth: UInt8(depth), flowLabel: ip.flowLabel)
        p.ip = s
        let declaredEnd = ip.payloadLength == 0 ? b.count : 40 + Int(ip.payloadLength)
        if declaredEnd > b.count && !p.flags.contains(.snapTruncated) { throw .truncated(.ipv6) }
        let end = ip.capturedEnd
        let chain = try IPv6ExtensionChain(bytes: b, first: ip.nextHeader, start: 40, end: end)
        s.proto = chain.upperProtocol
        s.headerLength = UInt16(chain.upperOffset)
        if chain.hasFragmentHeader {
            s.hasFragmentHeader = true
            s.ipID = chain.fragmentID
            s.fragmentOffset = chain.fragmentOffset
            s.moreFragments = chain.moreFragments
            s.isFragment = chain.moreFragments || chain.fragmentOffset != 0
            if s.isFragment { p.flags.insert(.fragment) }
        }
        p.ip = s
        let payload = b.slice(chain.upperOffset..<end)
        // RFC 8200 §8.1: a Routing header with segments left names the final destination for the pseudo-header;
        // RFC 6275 §6.3: a Home Address option's address is the source upper layers see.
        let pseudo = chain.finalDestination != nil || chain.homeAddress != nil
            ? PseudoAddresses(src: chain.homeAddress ?? ip.src, dst: chain.finalDestination ?? ip.dst) : nil
        try decodeUpper(frame, off + chain.upperOffset, payload, declared: declaredEnd - chain.upperOffset,
                        proto: chain.upperProtocol, nonFirstFragment: chain.fragmentOffset != 0, depth: depth,
                        pseudo: pseudo, &p)
    }

    /// Transport and tunnels. `payload` is the captured IP payload; `declared` its length per the IP header.
    func decodeUpper(_ frame: UnsafeRawBufferPointer, _ off: Int, _ payload: UnsafeRawBufferPointer, declared: Int,
                     proto: IPProtocol, nonFirstFragment: Bool, depth: Int, pseudo: PseudoAddresses? = nil,
                     _ p: inout DecodedPacket) throws(PacketStatus) {
        p.payloadOffset = off
        p.payloadLength = declared
        p.payloadCapturedLength = payload.count
        if nonFirstFragment { return }
        // A first fragment carries only part of the transport segment: decode its header, skip checksums.
        let whole = !(p.ip?.isFragment ?? false) && payload.count == declared
        switch proto.rawValue {
        case 6: try decodeTCP(off, payload, declared: declared, whole: whole, pseudo, &p)
        case 17: try decodeUDP(off, payload, declared: declared, whole: whole, pseudo, &p)
        case 1: try decodeICMP(off, payload, whole: whole, v6: false, nil, &p)
        case 58: try decodeICMP(off, payload, whole: whole, v6: true, pseudo, &p)
        case 4, 41:
            guard depth < PacketDecoder.maxTunnelDepth else { throw .malformed(proto.rawValue == 4 ? .ipv4 : .ipv6, .tooDeep) }
            p.flags.insert(.tunnelled)
            try decodeIP(frame, off, depth: depth + 1, forceVersion: proto.rawValue == 4 ? 4 : 6, &p)
        case 47:
            try decodeGRE(frame, off, payload, depth: depth, &p)
        default:
            return
        }
    }

    /// GRE (RFC 2784, RFC 2890 key and sequence): version 0 only; inner IPv4, IPv6 or Ethernet (0x6558).
    func decodeGRE(_ frame: UnsafeRawBufferPointer, _ off: Int, _ g: UnsafeRawBufferPointer, depth: Int,
                   _ p: inout DecodedPacket) throws(PacketStatus) {
        guard g.count >= 4 else { throw .truncated(.gre) }
        let flags = g.be16(0)
        guard flags & 0x7 == 0 else { return }          // version 1 (PPTP) and others: GRE decoded, payload not
        var hl = 4
        if flags & 0x8000 != 0 { hl += 4 }
        if flags & 0x2000 != 0 { hl += 4 }
        if flags & 0x1000 != 0 { hl += 4 }
        guard g.count >= hl else { throw .truncated(.gre) }
        guard depth < PacketDecoder.maxTunnelDepth else { throw .malformed(.gre, .tooDeep) }
        let inner = g.be16(2)
        switch inner {
        case 0x0800, 0x86dd:
            p.flags.insert(.tunnelled)
            try decodeIP(frame, off + hl, depth: depth + 1, forceVersion: inner == 0x0800 ? 4 : 6, &p)
        case 0x6558:
            guard g.count >= hl + 14 else { throw .truncated(.ethernet) }
            p.flags.insert(.tunnelled)
            let t = frame.be16(off + hl + 12)
            if t == 0x0800 || t == 0x86dd {
                try decodeIP(frame, off + hl + 14, depth: depth + 1, forceVersion: t == 0x0800 ? 4 : 6, &p)
            }
        default:
            return
        }
    }

    // MARK: - Transport

    /// Addresses for the transport pseudo-header when they differ from the IP header's (IPv6 routing / home address).
    struct PseudoAddresses {
        var src: IPAddress
        var dst: IPAddress
    }

    func transportChecksum(_ seg: UnsafeRawBufferPointer, proto: UInt8, _ pseudo: PseudoAddresses?,
                           _ p: DecodedPacket) -> ChecksumStatus {
        guard verifyChecksums, let ip = p.ip else { return .unverified }
        let ph = InternetChecksum.pseudoHeader(src: pseudo?.src ?? ip.src, dst: pseudo?.dst ?? ip.dst, proto: proto,
                                               length: seg.count)
        return InternetChecksum.verifies(ph, InternetChecksum.sum(seg)) ? .good : .bad
    }

    func decodeTCP(_ off: Int, _ seg: UnsafeRawBufferPointer, declared: Int, whole: Bool, _ pseudo: PseudoAddresses?,
                   _ p: inout DecodedPacket) throws(PacketStatus) {
        let t = try TCPView(validating: seg, segmentLength: declared)
        let hl = t.headerLength
        var s = TCPSummary(srcPort: t.srcPort, dstPort: t.dstPort, seq: t.seq, ack: t.ack, flags: t.flags,
                           window: t.window, headerLength: UInt8(hl), urgentPointer: t.urgentPointer,
                           options: hl > 20 ? t.parseOptions() : TCPOptionsSummary(), checksum: .unverified)
        if whole {
            s.checksum = transportChecksum(seg, proto: 6, pseudo, p)
            if s.checksum == .bad { p.flags.insert(.badTransportChecksum) }
        }
        p.transport = .tcp(s)
        p.payloadOffset = off + hl
        p.payloadLength = declared - hl
        p.payloadCapturedLength = max(0, seg.count - hl)
    }

    func decodeUDP(_ off: Int, _ seg: UnsafeRawBufferPointer, declared: Int, whole: Bool, _ pseudo: PseudoAddresses?,
                   _ p: inout DecodedPacket) throws(PacketStatus) {
        guard seg.count >= 8, declared >= 8 else { throw .truncated(.udp) }
        let len = Int(seg.be16(4))
        guard len >= 8 else { throw .malformed(.udp, .badLength) }
        var s = UDPSummary(srcPort: seg.be16(0), dstPort: seg.be16(2), length: UInt16(len), checksum: .unverified)
        let end = min(len, declared)
        if whole && len <= seg.count && !(seg.be16(6) == 0 && p.ip?.version == 4) {
            s.checksum = transportChecksum(seg.slice(0..<len), proto: 17, pseudo, p)
            if s.checksum == .bad { p.flags.insert(.badTransportChecksum) }
        }
        p.transport = .udp(s)
        p.payloadOffset = off + 8
        p.payloadLength = end - 8
        p.payloadCapturedLength = max(0, min(end, seg.count) - 8)
    }

    /// ICMP (RFC 792) and ICMPv6 (RFC 4443). Errors quote the offending datagram: "internet header + 64 bits of
    /// original data" (RFC 792), "as much of invoking packet as possible" (RFC 4443 §3.1–3.4).
    func decodeICMP(_ off: Int, _ m: UnsafeRawBufferPointer, whole: Bool, v6: Bool, _ pseudo: PseudoAddresses?,
                    _ p: inout DecodedPacket) throws(PacketStatus) {
        guard m.count >= 8 else { throw .truncated(v6 ? .icmpv6 : .icmp) }
        let type = m[0], code = m[1]
        var s = ICMPSummary(isV6: v6, type: type, code: code, checksum: .unverified, echoID: nil, echoSeq: nil, quoted: nil)
        if whole && verifyChecksums {
            if v6 {
                s.checksum = transportChecksum(m, proto: 58, pseudo, p)
            } else {
                s.checksum = InternetChecksum.verifies(InternetChecksum.sum(m)) ? .good : .bad
            }
            if s.checksum == .bad { p.flags.insert(.badTransportChecksum) }
        }
        let isEcho = v6 ? (type == 128 || type == 129) : (type == 0 || type == 8)
        let isError = v6 ? (type >= 1 && type <= 4) : (type == 3 || type == 11 || type == 12 || type == 4 || type == 5)
        if isEcho {
            s.echoID = m.be16(4)
            s.echoSeq = m.be16(6)
        } else if isError && m.count > 8 {
            s.quoted = PacketDecoder.decodeQuote(m.dropping(8))
        }
        p.transport = .icmp(s)
        p.payloadOffset = off + 8
        p.payloadLength = m.count - 8
        p.payloadCapturedLength = m.count - 8
    }

    /// Decodes as much of a quoted datagram as is present; nil when not even the addresses are there.
    public static func decodeQuote(_ q: UnsafeRawBufferPointer) -> QuotedPacket? {
        guard q.count >= 1 else { return nil }
        var out: QuotedPacket
        var l4: UnsafeRawBufferPointer
        switch q[0] >> 4 {
        case 4:
            guard q.count >= 20 else { return nil }
            let ip = IPv4View(unchecked: q)
            let hl = max(20, ip.headerLength)
            out = QuotedPacket(version: 4, src: ip.src, dst: ip.dst, ttl: ip.ttl, ipID: UInt32(ip.identification),
                               proto: ip.proto, totalLength: ip.totalLength)
            l4 = hl <= q.count ? q.dropping(hl) : UnsafeRawBufferPointer(start: nil, count: 0)
            if ip.fragmentOffset != 0 { return out }
        case 6:
            guard q.count >= 40 else { return nil }
            let ip = IPv6View(unchecked: q)
            out = QuotedPacket(version: 6, src: ip.src, dst: ip.dst, ttl: ip.hopLimit, ipID: 0, proto: ip.nextHeader,
                               totalLength: 40 &+ ip.payloadLength)
            guard let chain = try? IPv6ExtensionChain(bytes: q, first: ip.nextHeader, start: 40, end: q.count) else {
                return out
            }
            out.proto = chain.upperProtocol
            out.ipID = chain.fragmentID
            l4 = q.dropping(chain.upperOffset)
            if chain.fragmentOffset != 0 { return out }
        default:
            return nil
        }
        switch out.proto.rawValue {
        case 6, 17:
            if l4.count >= 4 { out.srcPort = l4.be16(0); out.dstPort = l4.be16(2) }
            if out.proto.rawValue == 6 && l4.count >= 8 { out.tcpSeq = l4.be32(4) }
        case 1, 58:
            if l4.count >= 8 { out.icmpID = l4.be16(4); out.icmpSeq = l4.be16(6) }
        default: break
        }
        return out
    }
}
