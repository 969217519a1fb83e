"""A small nfnetlink_queue client over a raw netlink socket (Debian has no Python binding for libnetfilter_queue).

Protocol: include/uapi/linux/netfilter/nfnetlink_queue.h. Messages are nlmsghdr + nfgenmsg + attributes;
type = NFNL_SUBSYS_QUEUE(3) << 8 | msg, with NFQNL_MSG_PACKET=0, VERDICT=1, CONFIG=2.
"""
import socket, struct

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
COPY_META, COPY_PACKET = 1, 2
NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_PAYLOAD = 1, 2, 10
NF_DROP, NF_ACCEPT = 0, 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def _attr(atype, payload):
    ln = 4 + len(payload)
    return struct.pack("=HH", ln, atype) + payload + b"\0" * ((4 - ln % 4) % 4)


def _attrs(data):
    out, off = {}, 0
    while off + 4 <= len(data):
        ln, at = struct.unpack_from("=HH", data, off)
        if ln < 4:
            break
        out[at & 0x7FFF] = data[off + 4: off + ln]
        off += (ln + 3) & ~3
    return out


class NfQueue:
    def __init__(self, queue, copy_mode=COPY_META, copy_range=0xFFFF):
        self.queue = queue
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.bind((0, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        cmd = struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, socket.htons(socket.AF_INET))
        self._send(NFQNL_MSG_CONFIG, _attr(NFQA_CFG_CMD, cmd), NLM_F_REQUEST | NLM_F_ACK)
        self._send(NFQNL_MSG_CONFIG, _attr(NFQA_CFG_PARAMS, struct.pack(">IB", copy_range, copy_mode)),
                   NLM_F_REQUEST | NLM_F_ACK)

    def _send(self, mtype, attrs, flags=NLM_F_REQUEST):
        body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(self.queue)) + attrs
        self.sock.send(struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | mtype, flags, 0, 0) + body)

    def fileno(self):
        return self.sock.fileno()

    def recv(self):
        """[(packet_id, payload bytes or b'')] from one read; raises OSError on a netlink error."""
        data = self.sock.recv(1 << 17)
        out, off = [], 0
        while off + 16 <= len(data):
            ln, mtype, _f, _s, _p = struct.unpack_from("=IHHII", data, off)
            if ln < 16:
                break
            if mtype == NLMSG_ERROR:
                err = struct.unpack_from("=i", data, off + 16)[0]
                if err != 0:
                    raise OSError(-err, "nfnetlink_queue error")
            elif mtype == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                a = _attrs(data[off + 20: off + ln])
                hdr = a.get(NFQA_PACKET_HDR)
                if hdr and len(hdr) >= 4:
                    out.append((struct.unpack(">I", hdr[:4])[0], a.get(NFQA_PAYLOAD, b"")))
            off += (ln + 3) & ~3
        return out

    def verdict(self, packet_id, verdict):
        self._send(NFQNL_MSG_VERDICT, _attr(NFQA_VERDICT_HDR, struct.pack(">II", verdict, packet_id)))
