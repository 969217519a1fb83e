import KZAttribution
@testable import KZWire
import Testing

@Suite struct DistanceTests {
    @Test func initialTTLIsNearestDefaultAtOrAbove() {
        #expect(InitialTTL.infer(observed: 0) == .ttl32)
        #expect(InitialTTL.infer(observed: 32) == .ttl32)
        #expect(InitialTTL.infer(observed: 33) == .ttl64)
        #expect(InitialTTL.infer(observed: 64) == .ttl64)
        #expect(InitialTTL.infer(observed: 65) == .ttl128)
        #expect(InitialTTL.infer(observed: 128) == .ttl128)
        #expect(InitialTTL.infer(observed: 129) == .ttl255)
        #expect(InitialTTL.infer(observed: 255) == .ttl255)
        #expect(InitialTTL.hopDistance(observed: 52) == 12)
        #expect(InitialTTL.hopDistance(observed: 227) == 28)
        #expect(InitialTTL.ttl64.hopsTraversed(observed: 70) == nil)
        #expect(InitialTTL.ttl128.hopsTraversed(observed: 70) == 58)
        for t in 0...255 { #expect(InitialTTL.hopDistance(observed: UInt8(t)) >= 0) }
    }

    @Test func passiveDistanceUsesModalTTL() {
        let a = IPAddress("95.56.0.1")!, b = IPAddress("8.8.8.8")!
        var obs = (1...10).map { TTLObservation(source: a, ttl: 52, frame: $0) }
        obs.append(TTLObservation(source: a, ttl: 62, frame: 11))        // one injected packet claiming a
        obs += [TTLObservation(source: b, ttl: 115, frame: 12), TTLObservation(source: b, ttl: 116, frame: 13),
                TTLObservation(source: b, ttl: 116, frame: 14)]
        let d = PassiveDistance.compute(obs)
        #expect(d.map(\.source) == [b, a])   // sorted by address
        let da = d[1]
        #expect(da.modalTTL == 52 && da.hops == 12 && da.initialTTL == .ttl64 && da.packets == 11)
        #expect(!da.isStable && da.distinctTTLs == [52, 62])
        #expect(d[0].modalTTL == 116 && d[0].hops == 12 && d[0].isStable)
        #expect(PassiveDistance.compute([]).isEmpty)
    }

    @Test func injectorEstimateBeforePeer() {
        // Server 12 routers away (TTL 52); forged RST with TTL 60 → 4 routers → hop 5.
        let e = InjectorHopEstimate.estimate(injectedTTL: 60, triggerTTL: 64, peerTTL: 52)
        #expect(e.trusted && e.copying == .none)
        #expect(e.routersTraversed == 4 && e.hopIndex == 5)
        #expect(e.lowIndex == 4 && e.highIndex == 6 && e.uncertainty == 1)
        #expect(e.peerHopIndex == 13)
        #expect(e.confidence == "medium")
        let noPeer = InjectorHopEstimate.estimate(injectedTTL: 250)
        #expect(noPeer.trusted && noPeer.hopIndex == 6 && noPeer.confidence == "low")
    }

    @Test func injectorEstimateRecognisesCopyingAndImplausible() {
        let copy = InjectorHopEstimate.estimate(injectedTTL: 63, triggerTTL: 64, peerTTL: 52)
        #expect(!copy.trusted && copy.copying == .copiesTrigger && copy.confidence == "low")
        #expect(copy.note.contains("TTL-copying"))
        let peer = InjectorHopEstimate.estimate(injectedTTL: 52, triggerTTL: 64, peerTTL: 52)
        #expect(!peer.trusted && peer.copying == .copiesPeer)
        let beyond = InjectorHopEstimate.estimate(injectedTTL: 40, triggerTTL: 64, peerTTL: 52)
        #expect(!beyond.trusted && beyond.copying == .none && beyond.note.contains("beyond the peer"))
        let far = InjectorHopEstimate.estimate(injectedTTL: 70)
        #expect(!far.trusted && far.routersTraversed == 58)
        #expect(InjectorHopEstimate.tracksTrigger([(1, 3), (2, 4), (3, 5)]))
        #expect(!InjectorHopEstimate.tracksTrigger([(1, 60), (2, 60), (3, 60), (9, 60)]))
        #expect(!InjectorHopEstimate.tracksTrigger([(5, 7), (5, 7)]))      // one trigger TTL proves nothing
        #expect(!InjectorHopEstimate.tracksTrigger([]))
    }

    @Test func hopAttributionFromEstimate() {
        let e = InjectorHopEstimate.estimate(injectedTTL: 60, triggerTTL: 64, peerTTL: 52)
        let h = HopAttribution(estimate: e)
        #expect(h.index == 5 && h.method == .ttlDistance && h.router == nil && h.confidence == "medium")
        let withPath = HopAttribution(estimate: e, path: [5: IPAddress("95.59.170.1")!])
        #expect(withPath.method == .icmpPath && withPath.router == "95.59.170.1")
        let untrusted = HopAttribution(estimate: InjectorHopEstimate.estimate(injectedTTL: 64, triggerTTL: 64),
                                       path: [1: IPAddress("10.0.0.1")!])
        #expect(untrusted.router == nil && untrusted.confidence == "low")
    }
}
