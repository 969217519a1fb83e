import KZWire

/// One tracked flow inside `FlowTable` (stored in place in an array; mutated through `inout`, never copied on the hot
/// path).
///
/// Field order is memory order: what every packet reads or writes (the key, direction, timeout class, TCP index,
/// last-seen time) comes first and shares two cache lines; first-packet facts come last.
///
/// The slot keeps the key, id and role source, not a whole `FlowContext`: the context's originator and responder are
/// the key's endpoints in the order `originatorIsLow` gives, so storing them again would cost 64 bytes per flow.
@usableFromInline struct FlowSlot: Sendable {
    var key: FlowKey
    var id: FlowID
    var roleSource: RoleSource
    var originatorIsLow: Bool
    var inUse = true
    var isTCP: Bool
    var lastDigits: UInt8
    var timeoutClass: TimeoutClass
    /// Index of this flow's `TCPFlowState` in `FlowTable.tcpStates`, -1 when it has none (not TCP).
    var tcpIndex: Int32 = -1
    var firstDigits: UInt8
    var lastNanos: Int64
    var lastFrame: FrameNumber
    var fwd = HalfState()
    var rev = HalfState()
    /// First packet's time (its digits in `firstDigits`): here, the notes (16-byte aligned) start without padding.
    var firstNanos: Int64
    var notes = FlowNotes()
    var firstFrame: FrameNumber

    init(context: FlowContext, originatorIsLow: Bool, packet p: DecodedPacket, timeoutClass: TimeoutClass) {
        key = context.key
        id = context.id
        roleSource = context.roleSource
        self.originatorIsLow = originatorIsLow
        isTCP = context.key.proto == .tcp
        firstNanos = p.timestamp.nanoseconds
        firstDigits = p.timestamp.digits
        lastNanos = p.timestamp.nanoseconds
        lastDigits = p.timestamp.digits
        firstFrame = p.frame
        lastFrame = p.frame
        self.timeoutClass = timeoutClass
    }

    /// Who the flow is, as events carry it (built from the key and `originatorIsLow`).
    @inline(__always) var context: FlowContext {
        FlowContext(id: id, key: key, originator: originatorIsLow ? key.low : key.high,
                    responder: originatorIsLow ? key.high : key.low, roleSource: roleSource)
    }

    /// An unused slot (keeps no storage).
    static let empty: FlowSlot = {
        let e = FlowEndpoint(IPAddress(v4: 0), 0)
        let ctx = FlowContext(id: 0, key: FlowKey(e, e, proto: .tcp), originator: e, responder: e,
                              roleSource: .firstPacket)
        var s = FlowSlot(context: ctx, originatorIsLow: true,
                         packet: DecodedPacket(frame: 0, timestamp: Timestamp(nanoseconds: 0), capturedLength: 0,
                                               wireLength: 0, linkType: .raw), timeoutClass: .other)
        s.inUse = false
        return s
    }()

    // MARK: TCP

    /// Zeek's per-packet TCP analysis (TCPSessionAdapter::Process) re-expressed for a passive forensic observer, plus
    /// reassembly. `payload` is the captured payload, `segLen` the payload length the headers declare; `st` is this
    /// flow's TCP state (`tcpIndex`).
    mutating func tcp<S: FlowEventSink>(
        _ p: DecodedPacket, _ ip: IPSummary, _ t: TCPSummary, payload: UnsafeRawBufferPointer, segLen: Int,
        direction: FlowDirection, st: inout TCPFlowState, limits: FlowLimits, budget: inout ReassemblyBudget,
        sink: inout S
    ) {
        let context = self.context
        if direction == .forward {
            FlowSlot.tcpHalf(p, ip, t, payload: payload, segLen: segLen, direction: direction, c: &fwd, e: &st.fwd,
                             peer: &st.rev, notes: &notes, marks: &st.marks, handshake: &st.handshake,
                             synNanos: &st.synNanos, synAckNanos: &st.synAckNanos, flow: context, limits: limits,
                             budget: &budget, sink: &sink)
        } else {
            FlowSlot.tcpHalf(p, ip, t, payload: payload, segLen: segLen, direction: direction, c: &rev, e: &st.rev,
                             peer: &st.fwd, notes: &notes, marks: &st.marks, handshake: &st.handshake,
                             synNanos: &st.synNanos, synAckNanos: &st.synAckNanos, flow: context, limits: limits,
                             budget: &budget, sink: &sink)
        }
        timeoutClass = TCPFlowState.timeoutClass(st.fwd.state, st.rev.state)
    }

    @inline(__always)
    static func tcpHalf<S: FlowEventSink>(
        _ p: DecodedPacket, _ ip: IPSummary, _ t: TCPSummary, payload: UnsafeRawBufferPointer, segLen: Int,
        direction: FlowDirection, c: inout HalfState, e: inout TCPHalf, peer: inout TCPHalf, notes: inout FlowNotes,
        marks: inout TCPHistoryMarks, handshake: inout HandshakeState, synNanos: inout Int64,
        synAckNanos: inout Int64, flow: FlowContext, limits: FlowLimits, budget: inout ReassemblyBudget, sink: inout S
    ) {
        let isOrig = direction == .forward
        let f = t.flags.rawValue
        let syn = f & 0x02 != 0, fin = f & 0x01 != 0, rst = f & 0x04 != 0, ack = f & 0x10 != 0
        let seq = t.seq
        let frame = p.frame
        c.payloadBytes &+= segLen

        let rec = SegmentRecord(p, ip, t, direction: direction, payload: segLen)
        if limits.keepSegmentRecords {
            let allow = budget.segmentRecords < limits.maxSegmentRecordsTotal
            let added = e.log.append(rec, limits: limits, allowGrowth: allow, store: &budget.segments)
            budget.segmentRecords &+= added
        }
        sink.tcpSegment(flow, rec)

        if t.checksum == .bad {
            HalfState.bump(&c.badChecksums)
            notes.history.scaled(.c, UInt8(ascii: "C"), isOrig)
            notes.anomaly(.badTCPChecksum, frame: frame)
            if limits.dropBadChecksumSegments { return }
        }

        notes.history.tcp(flags: f, seq: seq, len: segLen, orig: isOrig, marks: &marks)
        if (syn ? 1 : 0) + (fin ? 1 : 0) + (rst ? 1 : 0) > 1 {
            notes.anomaly(fin && rst ? .finAndReset : .multiFlag, frame: frame)
        }

        // Zero window (Zeek update_window): not with or after a RST, not after the peer's FIN.
        if t.window == 0 && !rst && peer.state != .closed && e.state != .reset {
            e.zeroWindows &+= 1
            notes.history.scaled(.w, UInt8(ascii: "W"), isOrig)
        }

        // Retransmission (Zeek update_last_seq): payload that does not advance the highest sequence number.
        let space = (rst ? 0 : segLen) + (syn ? 1 : 0) + (fin ? 1 : 0)
        let seqEnd = seq &+ UInt32(truncatingIfNeeded: space)
        if !e.seqInit {
            if !rst { e.seqInit = true; e.maxSeqEnd = seqEnd }
        } else {
            let dl = Int32(bitPattern: seqEnd &- e.maxSeqEnd)
            if dl > 0 {
                if !rst { e.maxSeqEnd = seqEnd }
            } else if segLen > 0 && !rst && e.state != .reset {
                e.retransSegments &+= 1
                notes.history.scaled(.t, UInt8(ascii: "T"), isOrig)
            }
        }

        // SYN: options, ISN, handshake timing (RFC 9293 §3.5; RFC 7323 §2.2 window scale).
        if syn {
            if segLen > 0 { notes.anomaly(.synWithData, frame: frame) }
            if let ws = t.options.windowScale {
                if ws > 14 { notes.anomaly(.windowScaleRange, frame: frame) }
                e.offeredScale = min(ws, 14)
            }
            if let m = t.options.mss { e.mss = m }
            if e.sawSYN && seq != e.isn {
                notes.anomaly(.synSeqJump, frame: frame)
                e.isn = seq
                if e.stream.pristine { e.stream.start(at: seq &+ 1) }
            } else if !e.sawSYN {
                e.sawSYN = true
                e.isn = seq
                if e.stream.pristine { e.stream.start(at: seq &+ 1) }
            }
            if !ack && isOrig && handshake.synFrame == nil {
                handshake.synFrame = frame
                synNanos = p.timestamp.nanoseconds
            }
            if ack && !isOrig && handshake.synAckFrame == nil {
                handshake.synAckFrame = frame
                synAckNanos = p.timestamp.nanoseconds
                if handshake.synFrame != nil {
                    handshake.synToSynAck = Double(synAckNanos &- synNanos) / 1e9
                }
            }
        } else if ack && isOrig && handshake.ackFrame == nil && handshake.synAckFrame != nil && !rst {
            handshake.ackFrame = frame
            handshake.synAckToAck = Double(p.timestamp.nanoseconds &- synAckNanos) / 1e9
        }

        let stateBefore = e.state
        let peerBefore = peer.state
        stateMachine(e: &e, peer: &peer, isOrig: isOrig, syn: syn, fin: fin, rst: rst, ack: ack, len: segLen,
                     frame: frame, notes: &notes)
        if stateBefore == .reset && segLen > 0 && !rst { notes.anomaly(.dataAfterReset, frame: frame) }
        if (stateBefore == .reset || stateBefore == .closed) && (peerBefore == .reset || peerBefore == .closed)
            && (segLen > 0 || syn || rst) {
            notes.anomaly(.packetAfterClose, frame: frame)
        }

        // Window this side advertises for the peer's data (segments with SYN carry an unscaled window).
        if ack && !rst {
            let scale: UInt32 = (e.offeredScale != 0xff && peer.offeredScale != 0xff) ? UInt32(e.offeredScale) : 0
            e.lastWindow = syn ? UInt32(t.window) : UInt32(t.window) << scale
            e.lastAck = t.ack
            e.ackKnown = true
        }

        if rst {
            e.resets &+= 1
            if segLen > 0 { notes.anomaly(.resetWithData, frame: frame) }
            var ev = ResetEvent(direction: direction, segment: rec, expectedSeq: nil, seqOffset: nil, inWindow: nil,
                                handshakeComplete: handshake.synAckFrame != nil
                                    && (peerBefore == .established || stateBefore == .established),
                                deliveredForward: 0, deliveredReverse: 0)
            if e.stream.started {
                ev.expectedSeq = e.stream.nextSeq
                ev.seqOffset = Int(Int32(bitPattern: seq &- e.stream.nextSeq))
            }
            if peer.ackKnown {
                let w = max(peer.lastWindow, 1)
                let inside = TCPSeq(seq).isIn(TCPSeq(peer.lastAck), TCPSeq(peer.lastAck &+ w))
                ev.inWindow = inside
                if !inside { notes.anomaly(.resetOutOfWindow, frame: frame) }
            }
            let mine = e.stream.nextOffset, theirs = peer.stream.nextOffset
            ev.deliveredForward = isOrig ? mine : theirs
            ev.deliveredReverse = isOrig ? theirs : mine
            sink.tcpReset(flow, ev)
        }
        if fin { e.fins &+= 1 }

        // Payload into the stream (RST payload is not stream data, RFC 9293 §3.5.3).
        let dataSeq = syn ? seq &+ 1 : seq
        if segLen > 0 && !rst {
            if e.stream.started && e.stream.finOffset != .max
                && e.stream.offset(of: dataSeq) >= Int64(bitPattern: e.stream.finOffset) {
                notes.anomaly(.dataAfterFIN, frame: frame)
            }
            let src = SegmentSource(frame: frame, timestamp: p.timestamp, ttl: ip.ttl, ipID: ip.ipID)
            e.stream.receive(seq: dataSeq, length: segLen, bytes: payload, source: src, direction: direction,
                             flow: flow, notes: &notes, budget: &budget, limits: limits, sink: &sink)
        } else if !e.stream.started && !rst && !syn {
            e.stream.start(at: seq)
        }
        if fin && !rst {
            e.stream.fin(seq: dataSeq &+ UInt32(truncatingIfNeeded: segLen), flow: flow, direction: direction,
                         sink: &sink)
        }
        // The peer's stream: acknowledged bytes never seen are capture loss. ACKs on RSTs are not trusted (Zeek).
        if ack && !rst {
            peer.stream.acknowledged(t.ack, frame: frame, direction: direction.opposite, flow: flow, notes: &notes,
                                     budget: &budget, limits: limits, sink: &sink)
        }
    }

    /// Zeek's UpdateStateMachine (TCPSessionAdapter.cc), per endpoint state.
    @inline(__always)
    static func stateMachine(e: inout TCPHalf, peer: inout TCPHalf, isOrig: Bool, syn: Bool, fin: Bool, rst: Bool,
                             ack: Bool, len: Int, frame: FrameNumber, notes: inout FlowNotes) {
        switch e.state {
        case .inactive:
            if syn {
                if isOrig {
                    e.set(ack ? .synAckSent : .synSent)
                } else {
                    if !ack && peer.state == .synSent { notes.anomaly(.simultaneousOpen, frame: frame) }
                    if peer.state == .synSent {
                        peer.set(.established)
                    } else if peer.state == .inactive {
                        notes.anomaly(.unsolicitedSynAck, frame: frame)
                    }
                    e.set(.established)
                }
            }
            if fin { e.set(.closed) }
            if rst { e.set(.reset) }
            if e.state == .inactive {
                if !isOrig && len == 0 && peer.state == .synSent {
                    // Some stacks ACK a SYN before their SYN-ACK: not a partial connection.
                } else if ack && peer.state == .established {
                    e.set(.established)
                } else {
                    e.set(.partial)
                }
            }
        case .synSent, .synAckSent:
            if fin { e.set(.closed) }
            if rst {
                e.set(.reset)
            } else if len > 0 && !syn {
                notes.anomaly(.dataBeforeEstablished, frame: frame)
            }
        case .established, .partial:
            if syn && e.state == .partial && peer.state == .inactive && !ack { e.set(.synSent) }
            if fin && !rst {
                e.set(.closed)
                if peer.state == .reset && peer.prevState == .closed { peer.set(.closed) }
            }
            if rst { e.set(.reset) }
        case .closed:
            if rst && peer.state != .closed { e.set(.reset) }
        case .reset:
            break
        }
    }

    /// Zeek's `conn_state()` (scripts/base/protocols/conn/main.zeek); `tcp` is the flow's TCP state when it has one.
    func connState(_ tcp: TCPFlowState?) -> ConnState {
        if isTCP, let tcp {
            let os = tcp.fwd.state, rs = tcp.rev.state
            if rs == .reset {
                if os == .synSent || os == .synAckSent || (os == .reset && fwd.payloadBytes == 0
                                                           && rev.payloadBytes == 0) { return .REJ }
                return os.isInactive ? .RSTRH : .RSTR
            }
            if os == .reset {
                if rs.isInactive { return notes.history.matchesRSTOS0 ? .RSTOS0 : .OTH }
                return .RSTO
            }
            if rs == .closed && os == .closed { return .SF }
            if os == .closed { return rs.isInactive ? .SH : .S2 }
            if rs == .closed { return os.isInactive ? .SHR : .S3 }
            if os == .synSent && rs == .inactive { return .S0 }
            if os == .established && rs == .established { return .S1 }
            return .OTH
        }
        if key.proto == .udp {
            if fwd.packets > 0 { return rev.packets > 0 ? .SF : .S0 }
            return rev.packets > 0 ? .SHR : .OTH
        }
        return .OTH
    }

    /// Ends both streams and builds the owned record. `tcp` is the flow's TCP state (nil when it has none).
    mutating func close<S: FlowEventSink>(reason: CloseReason, tcp: inout TCPFlowState?, limits: FlowLimits,
                                          budget: inout ReassemblyBudget, sink: inout S) -> FlowRecord {
        let context = self.context
        if isTCP, tcp != nil {
            tcp!.fwd.stream.close(frame: lastFrame, direction: .forward, flow: context, notes: &notes,
                                  budget: &budget, limits: limits, sink: &sink)
            tcp!.rev.stream.close(frame: lastFrame, direction: .reverse, flow: context, notes: &notes,
                                  budget: &budget, limits: limits, sink: &sink)
        }
        var segments: ([SegmentRecord], [SegmentRecord]) = ([], [])
        if var t = tcp {
            budget.segmentRecords &-= t.fwd.log.held + t.rev.log.held
            segments = (t.fwd.log.records(budget.segments), t.rev.log.records(budget.segments))
            t.fwd.log.release(&budget.segments)
            t.rev.log.release(&budget.segments)
            tcp = t
        }
        return FlowRecord(
            id: context.id, key: context.key, originator: context.originator, responder: context.responder,
            roleSource: context.roleSource, firstTimestamp: Timestamp(nanoseconds: firstNanos, digits: firstDigits),
            lastTimestamp: Timestamp(nanoseconds: lastNanos, digits: lastDigits), firstFrame: firstFrame,
            lastFrame: lastFrame,
            directions: [fwd.summary(tcp?.fwd ?? .absent, segments: segments.0),
                         rev.summary(tcp?.rev ?? .absent, segments: segments.1)], connState: connState(tcp),
            history: notes.history.string, anomalies: notes.anomalyCounts, handshake: tcp?.handshake.timing ?? HandshakeTiming(),
            overlapConflicts: notes.conflicts, overlapConflictCount: notes.conflictCount, gaps: notes.gaps,
            gapCount: notes.gapCount, closeReason: reason)
    }
}
