#!/usr/bin/env python3
"""Generates the sample captures in this folder (see README.md).

Usage: python3 captures/generate.py [--ffmpeg] [OUTPUT_DIR]

Without --ffmpeg it writes the G.711 captures, deterministically (same bytes every run). With
--ffmpeg it also records real ffmpeg senders (Opus, H.264, SRTP) with tshark on the loopback
interface; those bytes differ from run to run (timing, encoder state, SRTP keys are fixed).
"""
import argparse
import math
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

SAMPLE_RATE = 8000
PTIME_SAMPLES = 160  # 20 ms at 8 kHz


def linear_to_ulaw(sample: int) -> int:
    """G.711 mu-law (ITU-T G.711, with the usual 0x84 bias and 32635 clip)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not magnitude & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def linear_to_alaw(sample: int) -> int:
    """G.711 A-law (ITU-T G.711), even bits inverted."""
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(abs(sample), 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = 1
        while magnitude >= 64 and exponent < 7:
            magnitude >>= 1
            exponent += 1
        code = exponent << 4 | ((magnitude >> 1) & 0x0F)
    return (sign | code) ^ 0x55


def tone(frequency: float, packets: int, encode, amplitude: int = 8000):
    for index in range(packets):
        start = index * PTIME_SAMPLES
        yield bytes(
            encode(int(amplitude * math.sin(2 * math.pi * frequency * (start + n) / SAMPLE_RATE)))
            for n in range(PTIME_SAMPLES)
        )


def rtp(sequence: int, timestamp: int, ssrc: int, payload_type: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | payload_type, sequence & 0xFFFF, timestamp, ssrc) + payload


def internet_checksum(data: bytes) -> int:
    data += b"\x00" * (len(data) % 2)
    checksum = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while checksum >> 16:
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
    return ~checksum & 0xFFFF


def ipv4_ethernet(source: str, destination: str, protocol: int, segment: bytes) -> bytes:
    addresses = bytes(map(int, source.split("."))) + bytes(map(int, destination.split(".")))
    ip_header = struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(segment), 0, 0x4000, 64, protocol, 0) + addresses
    ip_header = ip_header[:10] + struct.pack("!H", internet_checksum(ip_header)) + ip_header[12:]
    ethernet = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ethernet + ip_header + segment


def udp_ipv4_ethernet(source: tuple, destination: tuple, payload: bytes) -> bytes:
    udp = struct.pack("!HHHH", source[1], destination[1], 8 + len(payload), 0) + payload
    return ipv4_ethernet(source[0], destination[0], 17, udp)


class TCPConnection:
    """One TCP connection's frames, with sequence numbers, acknowledgements and checksums: the handshake,
    data segments either way, and the closing FINs."""
    SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01

    def __init__(self, client: tuple, server: tuple):
        self.ends = (client, server)
        self.next_sequence = [0x1000_0000, 0x2000_0000]
        self.frames = []

    def segment(self, time: float, sender: int, flags: int, payload: bytes = b""):
        source, destination = self.ends[sender], self.ends[1 - sender]
        acknowledged = self.next_sequence[1 - sender] if flags & self.ACK else 0
        header = struct.pack("!HHIIBBHHH", source[1], destination[1], self.next_sequence[sender], acknowledged,
                             5 << 4, flags, 65535, 0, 0)
        pseudo = (bytes(map(int, source[0].split("."))) + bytes(map(int, destination[0].split(".")))
                  + struct.pack("!BBH", 0, 6, len(header) + len(payload)))
        checksum = internet_checksum(pseudo + header + payload)
        header = header[:16] + struct.pack("!H", checksum) + header[18:]
        self.next_sequence[sender] += len(payload) + (1 if flags & (self.SYN | self.FIN) else 0)
        self.frames.append((time, ipv4_ethernet(source[0], destination[0], 6, header + payload)))

    def open(self, time: float):
        self.segment(time, 0, self.SYN)
        self.segment(time + 0.0001, 1, self.SYN | self.ACK)
        self.segment(time + 0.0002, 0, self.ACK)

    def send(self, time: float, sender: int, payload: bytes):
        self.segment(time, sender, self.PSH | self.ACK, payload)

    def close(self, time: float):
        self.segment(time, 0, self.FIN | self.ACK)
        self.segment(time + 0.0001, 1, self.FIN | self.ACK)
        self.segment(time + 0.0002, 0, self.ACK)


def write_pcap(path: Path, frames):
    """Classic pcap, microsecond timestamps, Ethernet."""
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for time, frame in frames:
            seconds = int(time)
            micros = int(round((time - seconds) * 1e6))
            out.write(struct.pack("<IIII", seconds, micros, len(frame), len(frame)) + frame)


def write_pcapng(path: Path, frames):
    """pcapng: one section, one Ethernet interface with nanosecond timestamps (if_tsresol 9)."""
    def block(kind: int, body: bytes) -> bytes:
        body += b"\x00" * (-len(body) % 4)
        length = 12 + len(body)
        return struct.pack("<II", kind, length) + body + struct.pack("<I", length)

    with path.open("wb") as out:
        out.write(block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)))
        options = struct.pack("<HHB", 9, 1, 9) + b"\x00" * 3 + struct.pack("<HH", 0, 0)
        out.write(block(1, struct.pack("<HHI", 1, 0, 65535) + options))
        for time, frame in frames:
            nanos = int(round(time * 1e9))
            out.write(block(6, struct.pack("<IIIII", 0, nanos >> 32, nanos & 0xFFFFFFFF, len(frame), len(frame)) + frame))


def media(start: float, caller: tuple, callee: tuple, payload_type: int, encode, seconds: float, tones=(1000.0, 440.0)):
    """Both directions of a call, 20 ms packets; the callee starts 5 ms after the caller."""
    packets = int(seconds * 50)
    frames = []
    for direction, (source, destination, frequency, ssrc, offset) in enumerate(
        [(caller, callee, tones[0], 0x11223344, 0.0), (callee, caller, tones[1], 0x55667788, 0.005)]
    ):
        for index, payload in enumerate(tone(frequency, packets, encode)):
            packet = rtp(1000 * (direction + 1) + index, 160 * index, ssrc, payload_type, payload, marker=index == 0)
            frames.append((start + offset + index * 0.02, udp_ipv4_ethernet(source, destination, packet)))
    return frames


def pcma_sdp(address, port, session, events_fmtp=False):
    """An SDP offering PCMA and telephone-event on one audio line."""
    return (
        f"v=0\r\no=- {session} 1 IN IP4 {address}\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        + ("a=fmtp:101 0-15\r\n" if events_fmtp else "") + "a=sendrecv\r\n"
    )


def sip_messages(call_id, caller, callee):
    """Builds a call's SIP messages, from the caller's user@host (`caller`, its tag the user) to `callee`."""
    user, host = caller.split("@")

    def message(first_line, cseq, extra="", body=""):
        headers = (
            f"{first_line}\r\nVia: SIP/2.0/UDP {host}:5060;branch=z9hG4bK-{cseq.split()[0]}-{cseq.split()[1]}\r\n"
            f"From: <sip:{caller}>;tag={user}\r\nTo: <sip:{callee}>{extra}\r\nCall-ID: {call_id}\r\n"
            f"CSeq: {cseq}\r\nContact: <sip:{caller}>\r\nMax-Forwards: 70\r\n"
        )
        if body:
            headers += "Content-Type: application/sdp\r\n"
        return (headers + f"Content-Length: {len(body)}\r\n\r\n" + body).encode()

    return message


def sip_call(start: float):
    caller, callee = ("10.0.1.10", 5060), ("10.0.1.20", 5060)
    caller_media, callee_media = ("10.0.1.10", 41000), ("10.0.1.20", 51000)
    message = sip_messages("sample-call-1@10.0.1.10", "alice@10.0.1.10", "bob@10.0.1.20")
    sdp = pcma_sdp

    frames = [
        (start, udp_ipv4_ethernet(caller, callee, message("INVITE sip:bob@10.0.1.20 SIP/2.0", "1 INVITE", body=sdp(*caller_media, 1)))),
        (start + 0.01, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 100 Trying", "1 INVITE"))),
        (start + 0.20, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 200 OK", "1 INVITE", ";tag=bob", sdp(*callee_media, 2)))),
        (start + 0.21, udp_ipv4_ethernet(caller, callee, message("ACK sip:bob@10.0.1.20 SIP/2.0", "1 ACK", ";tag=bob"))),
    ]
    frames += media(start + 0.25, caller_media, callee_media, 8, linear_to_alaw, 2.0, tones=(800.0, 1200.0))
    frames += [
        (start + 2.40, udp_ipv4_ethernet(caller, callee, message("BYE sip:bob@10.0.1.20 SIP/2.0", "2 BYE", ";tag=bob"))),
        (start + 2.41, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 200 OK", "2 BYE", ";tag=bob"))),
    ]
    return sorted(frames, key=lambda frame: frame[0])


def rtcp_report(ssrc: int, packets: int, octets: int, rtp_timestamp: int, ntp: float) -> bytes:
    """A compound RTCP packet: sender report (no report blocks) and SDES with a CNAME."""
    seconds = int(ntp) + 2_208_988_800
    fraction = int((ntp - int(ntp)) * (1 << 32))
    report = struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, seconds, fraction, rtp_timestamp, packets, octets)
    name = b"replay@spillway"
    chunk = struct.pack("!IBB", ssrc, 1, len(name)) + name + b"\x00"
    chunk += b"\x00" * (-len(chunk) % 4)
    return report + struct.pack("!BBH", 0x81, 202, len(chunk) // 4) + chunk


def events_call(start: float):
    """A SIP call whose flows carry more than one SSRC, as SIPp's uac_pcap sends: PCMA voice, RFC 4733
    telephone-events from a second SSRC on the same ports (echoed by the callee from its own), the
    caller's voice changing SSRC halfway (a re-INVITE, a transfer), and RTCP on each RTP port + 1."""
    caller, callee = ("10.0.2.10", 5060), ("10.0.2.20", 5060)
    media_ports = {"caller": ("10.0.2.10", 42000), "callee": ("10.0.2.20", 52000)}
    message = sip_messages("events-call-1@10.0.2.10", "carol@10.0.2.10", "dave@10.0.2.20")

    def sdp(address, port, session):
        return pcma_sdp(address, port, session, events_fmtp=True)

    frames = [
        (start, udp_ipv4_ethernet(caller, callee, message("INVITE sip:dave@10.0.2.20 SIP/2.0", "1 INVITE", body=sdp(*media_ports["caller"], 1)))),
        (start + 0.20, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 200 OK", "1 INVITE", ";tag=dave", sdp(*media_ports["callee"], 2)))),
        (start + 0.21, udp_ipv4_ethernet(caller, callee, message("ACK sip:dave@10.0.2.20 SIP/2.0", "1 ACK", ";tag=dave"))),
    ]
    begin = start + 0.25
    seconds, packets = 3.0, 150
    directions = [
        # source, destination, tone, voice SSRCs (before and after the change), events SSRC, offset
        ("caller", "callee", 700.0, (0x0A0A0001, 0x0A0A0002), 0x0E0E0001, 0.0),
        ("callee", "caller", 1100.0, (0x0B0B0001, 0x0B0B0001), 0x0E0E0002, 0.005),
    ]
    for source_name, destination_name, frequency, voice, events_ssrc, offset in directions:
        source, destination = media_ports[source_name], media_ports[destination_name]
        rtcp_source, rtcp_destination = (source[0], source[1] + 1), (destination[0], destination[1] + 1)
        sent = {}
        for index, payload in enumerate(tone(frequency, packets, linear_to_alaw)):
            second_half = index >= packets // 2
            ssrc = voice[1] if second_half else voice[0]
            # A new SSRC starts a new sequence and timestamp space.
            base = 5000 if second_half and voice[1] != voice[0] else 0
            position = index - (packets // 2 if base else 0)
            packet = rtp(base + position + 100, 160 * position, ssrc, 8, payload, marker=position == 0)
            time = begin + offset + index * 0.02
            frames.append((time, udp_ipv4_ethernet(source, destination, packet)))
            sent.setdefault(ssrc, [0, 0, 0])
            sent[ssrc][0] += 1
            sent[ssrc][1] += len(payload)
            sent[ssrc][2] = 160 * position
            if index % 50 == 49:  # RTCP once a second, for each SSRC sending
                for reporting, (count, octets, timestamp) in sorted(sent.items()):
                    frames.append((time + 0.001, udp_ipv4_ethernet(rtcp_source, rtcp_destination,
                                                                     rtcp_report(reporting, count, octets, timestamp, time))))
        # Digit 5 at 1.0 s for 200 ms: ten updates 20 ms apart, the end packet sent three times.
        for update in range(13):
            end = update >= 10
            duration = 160 * min(update + 1, 10)
            payload = struct.pack("!BBH", 5, (0x80 if end else 0) | 10, duration)
            packet = rtp(300 + update, 8000, events_ssrc, 101, payload, marker=update == 0)
            frames.append((begin + offset + 1.0 + update * 0.02 + 0.002, udp_ipv4_ethernet(source, destination, packet)))
    frames += [
        (begin + seconds + 0.1, udp_ipv4_ethernet(caller, callee, message("BYE sip:dave@10.0.2.20 SIP/2.0", "2 BYE", ";tag=dave"))),
        (begin + seconds + 0.11, udp_ipv4_ethernet(callee, caller, message("SIP/2.0 200 OK", "2 BYE", ";tag=dave"))),
    ]
    return sorted(frames, key=lambda frame: frame[0])


def h323_codec():
    """The suite's pycrate H.323 endpoint (Tests/InteropTests/Scripts), whose message builders these calls use."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "InteropTests" / "Scripts"))
    import h323_endpoint
    return h323_endpoint


def rtcp_once_a_second(frames, time, index, source, destination, ssrc, payload_bytes, timestamp):
    """A sender report on the RTCP ports (RTP + 1) after every 50th packet."""
    if index % 50 == 49:
        frames.append((time + 0.001, udp_ipv4_ethernet((source[0], source[1] + 1), (destination[0], destination[1] + 1),
                                                       rtcp_report(ssrc, index + 1, (index + 1) * payload_bytes, timestamp, time))))


def h264_frames(begin: float, source: tuple, destination: tuple, ssrc: int, payload_type: int, frames_count: int):
    """Synthetic H.264 video at 25 frames/s: each frame a FU-A fragmented slice in two packets (an IDR
    slice every 25 frames), the marker bit on its last packet."""
    frames = []
    sequence = 7000
    for index in range(frames_count):
        slice_type = 5 if index % 25 == 0 else 1
        body = bytes((index * 7 + n) & 0xFF for n in range(1800 if slice_type == 5 else 700))
        halves = (body[: len(body) // 2], body[len(body) // 2:])
        time = begin + index * 0.04
        for part, chunk in enumerate(halves):
            fu_header = (0x80 if part == 0 else 0x40) | slice_type
            packet = rtp(sequence, 3600 * index, ssrc, payload_type, bytes([0x60 | 28, fu_header]) + chunk,
                         marker=part == 1)
            frames.append((time + part * 0.0005, udp_ipv4_ethernet(source, destination, packet)))
            sequence += 1
    return frames


def h323_faststart_call(start: float):
    """An H.323 call with fastStart: Setup proposing G.711 mu-law both ways, CallProceeding, Alerting,
    Connect accepting, 2 s of PCMU each way with RTCP, ReleaseComplete (H.245 tunnelling, nothing tunnelled)."""
    h323 = h323_codec()
    caller, callee = ("10.0.3.10", 41720), ("10.0.3.20", 1720)
    caller_media, callee_media = ("10.0.3.10", 43000), ("10.0.3.20", 53000)

    def endpoint(role, ip, rtp_port):
        made = h323.Endpoint(argparse.Namespace(
            role=role, ip=ip, rtp_port=rtp_port, mode="faststart", video=False, dial="5551234", alias="4440000",
            dest=None, sender_port=None, deliver_port=None))
        made.call_identifier = bytes.fromhex("5a11e55e0000400080000000000000a1")
        return made

    calling, answering = endpoint("caller", *caller_media), endpoint("callee", *callee_media)
    signalling = TCPConnection(caller, callee)
    signalling.open(start)
    signalling.send(start + 0.001, 0, h323.tpkt(calling.setup()))
    for offset, message in zip((0.01, 0.05, 0.30), answering.answer_messages()):
        signalling.send(start + offset, 1, h323.tpkt(message))
    begin = start + 0.32
    frames = signalling.frames + pcmu_both_ways(begin, caller_media, callee_media, (0x0C0C0001, 0x0D0D0001),
                                                (900.0, 1300.0), 200)
    release = h323.q931("releaseComplete", calling.crv, False, calling.pdu("releaseComplete", {
        "protocolIdentifier": h323.PROTOCOL, "callIdentifier": {"guid": calling.call_identifier}}),
        extra_ies=bytes([0x08, 2, 0x80, 0x90]))
    signalling.frames = []
    signalling.send(begin + 2.1, 0, h323.tpkt(release))
    signalling.close(begin + 2.11)
    return sorted(frames + signalling.frames, key=lambda frame: frame[0])


def h323_opening(h323, ip: str, port: int, sessions):
    """A party's first H.245 messages: MasterSlaveDetermination, then an OpenLogicalChannel for each
    session it sends (G.711 mu-law in session 1, H.264 with payload type 109 in session 2) naming
    its RTCP address, its RTP port + 1 (+ 2 per session)."""
    messages = [h323.msc(("request", ("masterSlaveDetermination", {"terminalType": 60, "statusDeterminationNumber": 4000 + port})))]
    for session in sessions:
        h323.OLC.from_aper(h323.olc_encoding(session, session, rtcp=(ip, port + 2 * session - 1),
                                             payload_type=109 if session == 2 else None))
        messages.append(h323.msc(("request", ("openLogicalChannel", h323.OLC.get_val()))))
    return messages


def h323_acks(h323, ip: str, port: int, sessions):
    """A party's OpenLogicalChannelAcks to the other's channels, naming where it receives each session."""
    return [h323.msc(("response", ("openLogicalChannelAck", {
        "forwardLogicalChannelNumber": session,
        "forwardMultiplexAckParameters": ("h2250LogicalChannelAckParameters", {
            "sessionID": session, "mediaChannel": h323.h245_address(ip, port + 2 * (session - 1)),
            "mediaControlChannel": h323.h245_address(ip, port + 2 * session - 1)})}))) for session in sessions]


def pcmu_both_ways(begin: float, caller_media: tuple, callee_media: tuple, ssrcs: tuple, tones: tuple, sequence: int):
    """2 s of PCMU each way, 20 ms packets, with an RTCP sender report on the ports + 1 once a second."""
    frames = []
    for source, destination, frequency, ssrc, offset in [
        (caller_media, callee_media, tones[0], ssrcs[0], 0.0), (callee_media, caller_media, tones[1], ssrcs[1], 0.005)
    ]:
        for index, payload in enumerate(tone(frequency, 100, linear_to_ulaw)):
            time = begin + offset + index * 0.02
            frames.append((time, udp_ipv4_ethernet(source, destination, rtp(sequence + index, 160 * index, ssrc, 0, payload,
                                                                            marker=index == 0))))
            rtcp_once_a_second(frames, time, index, source, destination, ssrc, len(payload), 160 * index)
    return frames


def h323_tunnelled_call(start: float):
    """An H.323 call with H.245 tunnelled in the call signalling (h245Control): Setup and Connect without
    fastStart, then Facility messages carrying each side's MasterSlaveDetermination and OpenLogicalChannel
    (G.711 mu-law) and the other's Ack naming where it receives; 2 s of PCMU each way with RTCP, then
    ReleaseComplete."""
    h323 = h323_codec()
    caller, callee = ("10.0.5.10", 41722), ("10.0.5.20", 1720)
    caller_media, callee_media = ("10.0.5.10", 45000), ("10.0.5.20", 55000)
    calling = h323.Endpoint(argparse.Namespace(
        role="caller", ip=caller[0], rtp_port=caller_media[1], mode="tunnel", video=False, dial="5553000",
        alias="4440000", dest=None, sender_port=None, deliver_port=None))
    answering = h323.Endpoint(argparse.Namespace(
        role="callee", ip=callee[0], rtp_port=callee_media[1], mode="tunnel", video=False, sender_port=None,
        deliver_port=None))
    calling.call_identifier = answering.call_identifier = bytes.fromhex("5a11e55e0000400080000000000000c3")
    signalling = TCPConnection(caller, callee)
    signalling.open(start)
    signalling.send(start + 0.001, 0, h323.tpkt(calling.setup()))
    for offset, message in zip((0.01, 0.05, 0.30), answering.answer_messages()):
        signalling.send(start + offset, 1, h323.tpkt(message))
    tunnelled = [
        (0, h323_opening(h323, *caller_media, [1])),
        (1, h323_opening(h323, *callee_media, [1]) + h323_acks(h323, *callee_media, [1])),
        (0, h323_acks(h323, *caller_media, [1])),
    ]
    for index, (sender, messages) in enumerate(tunnelled):
        signalling.send(start + 0.31 + index * 0.005, sender,
                        h323.tpkt(h323.q931("facility", calling.crv, sender == 1, calling.tunnel(messages))))
    frames = signalling.frames + pcmu_both_ways(start + 0.35, caller_media, callee_media, (0x1A1A0001, 0x1B1B0001),
                                                (600.0, 1400.0), 400)
    signalling.frames = []
    release = h323.q931("releaseComplete", calling.crv, False, calling.pdu("releaseComplete", {
        "protocolIdentifier": h323.PROTOCOL, "callIdentifier": {"guid": calling.call_identifier}}),
        extra_ies=bytes([0x08, 2, 0x80, 0x90]))
    signalling.send(start + 2.45, 0, h323.tpkt(release))
    signalling.close(start + 2.46)
    return sorted(frames + signalling.frames, key=lambda frame: frame[0])


def h323_separate_h245_call(start: float):
    """An H.323 call with a separate H.245 connection: Setup without fastStart, Connect naming the
    callee's H.245 address, then on H.245 each side's MasterSlaveDetermination and OpenLogicalChannels
    (G.711 mu-law, session 1; H.264, session 2, payload type 109) and the other's Acks naming where it
    receives; 2 s of audio and video each way with RTCP, then ReleaseComplete."""
    h323 = h323_codec()
    caller, callee = ("10.0.4.10", 41721), ("10.0.4.20", 1720)
    caller_h245, callee_h245 = ("10.0.4.10", 41800), ("10.0.4.20", 1800)
    media_ports = {"caller": ("10.0.4.10", 44000), "callee": ("10.0.4.20", 54000)}
    guid = bytes.fromhex("5a11e55e0000400080000000000000b2")
    calling = h323.Endpoint(argparse.Namespace(
        role="caller", ip=caller[0], rtp_port=media_ports["caller"][1], mode="separate", video=True, dial="5552000",
        alias="4440000", dest=None, sender_port=None, deliver_port=None))
    calling.call_identifier = guid
    common = {"protocolIdentifier": h323.PROTOCOL, "destinationInfo": {"terminal": {}, "mc": False, "undefinedNode": False},
              "callIdentifier": {"guid": guid}, "multipleCalls": False, "maintainConnection": False}
    connect = dict(common, conferenceID=bytes(range(16)),
                   h245Address=("ipAddress", {"ip": h323.ip_bytes(callee_h245[0]), "port": callee_h245[1]}))
    signalling = TCPConnection(caller, callee)
    signalling.open(start)
    signalling.send(start + 0.001, 0, h323.tpkt(calling.setup()))
    signalling.send(start + 0.01, 1, h323.tpkt(h323.q931("callProceeding", calling.crv, True, calling.pdu("callProceeding", dict(common)))))
    signalling.send(start + 0.30, 1, h323.tpkt(h323.q931("connect", calling.crv, True, calling.pdu("connect", connect))))

    control = TCPConnection(caller_h245, callee_h245)
    control.open(start + 0.31)
    time = start + 0.32
    both = (1, 2)
    for sender, messages in [
        (0, h323_opening(h323, *media_ports["caller"], both)),
        (1, h323_opening(h323, *media_ports["callee"], both) + h323_acks(h323, *media_ports["callee"], both)),
        (0, h323_acks(h323, *media_ports["caller"], both)),
    ]:
        for message in messages:
            control.send(time, sender, h323.tpkt(message))
            time += 0.002
    begin = start + 0.40
    frames = signalling.frames + control.frames + pcmu_both_ways(
        begin, media_ports["caller"], media_ports["callee"], (0x0E0E0101, 0x0F0F0101), (500.0, 1500.0), 300)
    for source_name, destination_name, video_ssrc, offset in [
        ("caller", "callee", 0x0E0E0102, 0.0), ("callee", "caller", 0x0F0F0102, 0.005)
    ]:
        source, destination = media_ports[source_name], media_ports[destination_name]
        video_source, video_destination = (source[0], source[1] + 2), (destination[0], destination[1] + 2)
        frames += h264_frames(begin + offset + 0.003, video_source, video_destination, video_ssrc, 109, 50)
    signalling.frames = []
    control.frames = []
    release = h323.q931("releaseComplete", calling.crv, False, calling.pdu("releaseComplete", {
        "protocolIdentifier": h323.PROTOCOL, "callIdentifier": {"guid": guid}}), extra_ies=bytes([0x08, 2, 0x80, 0x90]))
    control.close(begin + 2.1)
    signalling.send(begin + 2.11, 0, h323.tpkt(release))
    signalling.close(begin + 2.12)
    return sorted(frames + signalling.frames + control.frames, key=lambda frame: frame[0])


# A fixed SDES key (30 bytes: 16-byte key and 14-byte salt, base64) so the SRTP capture can be
# decrypted by anyone who reads this file.
SRTP_KEY = "d2hhdCBhIGxvdmVseSBzYW1wbGUga2V5IHNhbHQ2NzgK"[:40]


def capture_ffmpeg(path: Path, port: int, ffmpeg_arguments: list):
    """Runs one ffmpeg RTP sender to 127.0.0.1:port and records its UDP with tshark (as pcap)."""
    sinks = []
    for sink_port in (port, port + 1):  # something listening, so ffmpeg's sends are not refused
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", sink_port))
        sinks.append(sink)
    tshark = subprocess.Popen(
        ["tshark", "-q", "-i", "lo", "-F", "pcap", "-f", f"udp dst portrange {port}-{port + 1}", "-w", str(path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    # Wait until tshark says it is capturing.
    while "Capturing on" not in tshark.stderr.readline():
        pass
    try:
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-re"] + ffmpeg_arguments,
            check=True, stdout=subprocess.DEVNULL,
        )
    finally:
        time.sleep(0.5)
        tshark.send_signal(signal.SIGINT)
        tshark.wait(timeout=10)
    path.chmod(0o644)
    for sink in sinks:
        sink.close()


def ffmpeg_captures(out: Path):
    capture_ffmpeg(out / "opus.pcap", 43000, [
        "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=2",
        "-c:a", "libopus", "-b:a", "32k", "-ac", "1", "-payload_type", "111", "-ssrc", "1242680833",
        "-f", "rtp", "rtp://127.0.0.1:43000",
    ])
    capture_ffmpeg(out / "h264.pcap", 43010, [
        "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p",
        "-payload_type", "96", "-ssrc", "1242680834", "-f", "rtp", "rtp://127.0.0.1:43010",
    ])
    capture_ffmpeg(out / "srtp-pcmu.pcap", 43020, [
        "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000:duration=2",
        "-c:a", "pcm_mulaw", "-ar", "8000", "-ac", "1", "-ssrc", "1242680835",
        "-f", "rtp", "-srtp_out_suite", "AES_CM_128_HMAC_SHA1_80", "-srtp_out_params", SRTP_KEY,
        "srtp://127.0.0.1:43020?pkt_size=182",
    ])


def main():
    arguments = [argument for argument in sys.argv[1:] if argument != "--ffmpeg"]
    out = Path(arguments[0]) if arguments else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    start = 1_700_000_000.0
    write_pcap(out / "g711-tone.pcap", sorted(media(start, ("10.0.0.1", 40000), ("10.0.0.2", 50000), 0, linear_to_ulaw, 3.0)))
    write_pcapng(out / "sip-call.pcapng", sip_call(start))
    write_pcapng(out / "sip-events-rtcp.pcapng", events_call(start))
    write_pcapng(out / "h323-calls.pcapng", sorted(h323_faststart_call(start) + h323_separate_h245_call(start + 0.5),
                                                   key=lambda frame: frame[0]))
    write_pcapng(out / "h323-tunnelled.pcapng", h323_tunnelled_call(start))
    if "--ffmpeg" in sys.argv[1:]:
        ffmpeg_captures(out)


if __name__ == "__main__":
    main()
