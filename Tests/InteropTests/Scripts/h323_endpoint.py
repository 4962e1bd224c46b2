#!/usr/bin/env python3
"""An H.323 test endpoint (caller or callee) on pycrate's H.225.0 and H.245 codecs, independent of Spillway.

It places or answers one call over TPKT/Q.931 with H.245 in one of three ways (fastStart, tunnelled in
h245Control, or a separate H.245 TCP connection), opening an audio channel (G.711 mu-law, session 1) and
optionally an H.264 video channel (session 2) that receive at --rtp-port (video at --rtp-port + 2). It prints
one JSON object per line: what it received, and for each session where to send its media ("send-to"). When
--hangup-file appears it ends the call (--end release: ReleaseComplete; drop: TCP close; wait: until the other
side ends it).

Media is sent and received by ffmpeg, run by the test. Like a real endpoint, this one sends and receives each
session's RTP on one socket (its advertised address, where a relay's latching sends): RTP from its ffmpeg sender
(from --sender-port) goes on to where the signalling said, and everything else that
arrives goes to its ffmpeg receiver (--deliver-port).
"""
import argparse
import json
import os
import select
import socket
import sys
import time

from pycrate_asn1dir import H225, H245

UUIE = H225.H323_MESSAGES.H323_UserInformation
MSC = H245.MULTIMEDIA_SYSTEM_CONTROL.MultimediaSystemControlMessage
OLC = H245.MULTIMEDIA_SYSTEM_CONTROL.OpenLogicalChannel
PROTOCOL = (0, 0, 8, 2250, 0, 4)
TYPES = {0x01: 'alerting', 0x02: 'callProceeding', 0x05: 'setup', 0x07: 'connect', 0x5A: 'releaseComplete',
         0x62: 'facility', 0x7D: 'status', 0x75: 'statusEnquiry', 0x7B: 'information', 0x03: 'progress'}
CODES = {name: code for code, name in TYPES.items()}
H264 = (0, 0, 8, 241, 0, 0, 1)


def emit(**event):
    print(json.dumps(event), flush=True)


def ip_bytes(ip):
    return bytes(int(part) for part in ip.split('.'))


def h245_address(ip, port):
    return ('unicastAddress', ('iPAddress', {'network': ip_bytes(ip), 'tsapIdentifier': port}))


def address_text(address):
    kind, value = address
    if kind == 'unicastAddress':
        value = value[1]
        return '%s:%d' % ('.'.join(str(b) for b in value['network']), value['tsapIdentifier'])
    if kind == 'ipAddress':
        return '%s:%d' % ('.'.join(str(b) for b in value['ip']), value['port'])
    return repr(address)


def data_type(session):
    if session == 1:
        return ('audioData', ('g711Ulaw64k', 20))
    return ('videoData', ('genericVideoCapability', {'capabilityIdentifier': ('standard', H264), 'maxBitRate': 4000}))


def encode(codec, value):
    """pycrate's ALIGNED PER encoding of value, checked by decoding it again: pycrate 0.8.1 misaligns
    the extension-addition bitmap after a root CHOICE of NULLs (for example ReleaseComplete-UUIE.reason,
    which this endpoint therefore leaves out), and a message it cannot encode must not reach the test."""
    codec.set_val(value)
    encoding = codec.to_aper()
    codec.from_aper(encoding)
    if codec.get_val() != value:
        raise ValueError('pycrate cannot encode %s correctly: %s' % (codec._name, encoding.hex()))
    return encoding


def olc_encoding(number, session, rtp=None, rtcp=None, reverse=False, payload_type=None):
    parameters = {'sessionID': session}
    if rtp:
        parameters['mediaChannel'] = h245_address(*rtp)
    if rtcp:
        parameters['mediaControlChannel'] = h245_address(*rtcp)
    if payload_type:
        parameters['dynamicRTPPayloadType'] = payload_type
    if reverse:
        value = {'forwardLogicalChannelNumber': number,
                 'forwardLogicalChannelParameters': {'dataType': ('nullData', 0), 'multiplexParameters': ('none', 0)},
                 'reverseLogicalChannelParameters': {'dataType': data_type(session),
                                                     'multiplexParameters': ('h2250LogicalChannelParameters', parameters)}}
    else:
        value = {'forwardLogicalChannelNumber': number,
                 'forwardLogicalChannelParameters': {'dataType': data_type(session),
                                                     'multiplexParameters': ('h2250LogicalChannelParameters', parameters)}}
    return encode(OLC, value)


def msc(value):
    return encode(MSC, value)


def q931(message_type, crv, from_destination, uuie, extra_ies=b''):
    user_user = b'\x05' + encode(UUIE, uuie)
    flag = 0x80 if from_destination else 0
    header = bytes([0x08, 2, flag | (crv >> 8 & 0x7F), crv & 0xFF, CODES[message_type]])
    return header + extra_ies + bytes([0x7E, len(user_user) >> 8, len(user_user) & 0xFF]) + user_user


def tpkt(payload):
    return bytes([3, 0, (len(payload) + 4) >> 8, (len(payload) + 4) & 0xFF]) + payload


class Framed:
    """A TCP connection carrying TPKT frames."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b''
        self.closed = False

    def send(self, payload):
        self.sock.sendall(tpkt(payload))

    def frames(self):
        data = self.sock.recv(65536)
        if not data:
            self.closed = True
            return []
        self.buffer += data
        out = []
        while len(self.buffer) >= 4:
            length = self.buffer[2] << 8 | self.buffer[3]
            if len(self.buffer) < length:
                break
            out.append(self.buffer[4:length])
            self.buffer = self.buffer[length:]
        return out


def parse_q931(payload):
    reference_length = payload[1] & 0x0F
    crv = int.from_bytes(payload[2:2 + reference_length], 'big') & 0x7FFF
    message_type = TYPES.get(payload[2 + reference_length], hex(payload[2 + reference_length]))
    index = 3 + reference_length
    cause, uuie = None, None
    while index < len(payload):
        identifier = payload[index]
        index += 1
        if identifier & 0x80:
            continue
        if identifier == 0x7E:
            length = payload[index] << 8 | payload[index + 1]
            index += 2
            UUIE.from_aper(payload[index + 1:index + length])
            uuie = UUIE.get_val()
        else:
            length = payload[index]
            index += 1
            if identifier == 0x08 and length >= 2:
                cause = payload[index + 1] & 0x7F
        index += length
    return message_type, crv, cause, uuie


class Endpoint:
    def __init__(self, args):
        self.args = args
        self.sessions = [1, 2] if args.video else [1]
        self.signalling = None
        self.h245 = None
        self.h245_listener = None
        self.crv = 0x1234
        self.ended = False
        self.learned = {}
        self.call_identifier = bytes(range(16, 32))
        self.media = {}
        if args.sender_port and args.deliver_port:
            for session in self.sessions:
                media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                media.bind(self.rtp(session))
                self.media[media] = session

    def relay_media(self, sock):
        """One datagram on a session's socket: from our ffmpeg sender to the far end, else to our receiver."""
        session = self.media[sock]
        data, source = sock.recvfrom(65536)
        offset = 2 * (session - 1)
        if source[1] == self.args.sender_port + offset and source[0] != self.learned.get(session, ':').split(':')[0]:
            if session in self.learned:
                host, port = self.learned[session].split(':')
                sock.sendto(data, (host, int(port)))
        else:
            sock.sendto(data, (self.args.ip, self.args.deliver_port + offset))

    def rtp(self, session):
        return (self.args.ip, self.args.rtp_port + 2 * (session - 1))

    def rtcp(self, session):
        return (self.args.ip, self.args.rtp_port + 2 * (session - 1) + 1)

    # -- H.245 ---------------------------------------------------------------------------------------
    def h245_opening(self):
        """What this endpoint sends once H.245 is up (tunnelled or separate): an MSD that must arrive
        unchanged, then an OLC for each channel it transmits (its RTCP address only)."""
        messages = [msc(('request', ('masterSlaveDetermination', {'terminalType': 60, 'statusDeterminationNumber': 4242})))]
        for session in self.sessions:
            OLC.from_aper(olc_encoding(session, session, rtcp=self.rtcp(session)))
            messages.append(msc(('request', ('openLogicalChannel', OLC.get_val()))))
        return messages

    def h245_received(self, encoding):
        """Handles one H.245 message; returns the answers to send."""
        MSC.from_aper(encoding)
        kind, (name, value) = MSC.get_val()
        emit(event='h245', kind=name, hex=encoding.hex())
        if name == 'openLogicalChannel':
            session = value['forwardLogicalChannelParameters']['multiplexParameters'][1]['sessionID']
            ack = {'forwardLogicalChannelNumber': value['forwardLogicalChannelNumber'],
                   'forwardMultiplexAckParameters': ('h2250LogicalChannelAckParameters', {
                       'sessionID': session, 'mediaChannel': h245_address(*self.rtp(session)),
                       'mediaControlChannel': h245_address(*self.rtcp(session))})}
            return [msc(('response', ('openLogicalChannelAck', ack)))]
        if name == 'openLogicalChannelAck':
            parameters = value['forwardMultiplexAckParameters'][1]
            session = parameters.get('sessionID', 1)
            self.learn(session, parameters)
        return []

    def learn(self, session, parameters):
        if 'mediaChannel' in parameters and session not in self.learned:
            self.learned[session] = address_text(parameters['mediaChannel'])
            emit(event='send-to', session=session, rtp=self.learned[session],
                 rtcp=address_text(parameters['mediaControlChannel']) if 'mediaControlChannel' in parameters else None)

    def fast_start_received(self, proposals):
        for encoding in proposals:
            OLC.from_aper(encoding)
            value = OLC.get_val()
            for block in ('forwardLogicalChannelParameters', 'reverseLogicalChannelParameters'):
                mux = value.get(block, {}).get('multiplexParameters')
                if mux and mux[0] == 'h2250LogicalChannelParameters':
                    self.learn(mux[1]['sessionID'], mux[1])
            emit(event='fast-start', hex=encoding.hex())

    def tunnel(self, messages):
        return {'h323-uu-pdu': {'h323-message-body': ('empty', 0), 'h245Tunnelling': True, 'h245Control': messages}}

    # -- Q.931 ---------------------------------------------------------------------------------------
    def pdu(self, body_name, body, **extra):
        pdu = {'h323-message-body': (body_name, body), 'h245Tunnelling': self.args.mode != 'separate'}
        pdu.update(extra)
        return {'h323-uu-pdu': pdu}

    def handle(self, payload):
        message_type, crv, cause, uuie = parse_q931(payload)
        pdu = uuie['h323-uu-pdu'] if uuie else {}
        body_name, body = pdu.get('h323-message-body', (None, None))
        event = {'event': 'received', 'type': message_type, 'crv': crv, 'body': body_name}
        if cause is not None:
            event['cause'] = cause
        if isinstance(body, dict):
            if 'callIdentifier' in body:
                event['callIdentifier'] = body['callIdentifier']['guid'].hex()
            if 'h245Address' in body:
                event['h245Address'] = address_text(body['h245Address'])
            if 'destinationAddress' in body:
                event['destination'] = [alias[1] for alias in body['destinationAddress']]
            if 'reason' in body:
                event['reason'] = body['reason'][0]
            if 'alternativeAddress' in body:
                event['alternativeAddress'] = address_text(body['alternativeAddress'])
        emit(**event)
        if isinstance(body, dict) and 'fastStart' in body:
            self.fast_start_received(body['fastStart'])
        answers = []
        for encoding in pdu.get('h245Control', []):
            answers += self.h245_received(encoding)
        if answers:
            self.signalling.send(q931('facility', self.crv, self.args.role == 'callee', self.tunnel(answers)))
        if isinstance(body, dict) and 'h245Address' in body and self.args.mode == 'separate' and self.h245 is None:
            self.connect_h245(body['h245Address'])
        if message_type == 'facility' and isinstance(body, dict) and body.get('reason', (None,))[0] == 'callForwarded' \
                and 'alternativeAddress' in body and self.args.role == 'caller':
            self.follow(address_text(body['alternativeAddress']))
        elif message_type == 'releaseComplete':
            self.ended = True
        return message_type, body

    def follow(self, address):
        """A gatekeeper forwarded the call: send the same Setup to the address it named."""
        self.signalling.sock.close()
        self.connect(address)
        emit(event='forwarded', to=address)

    def connect_h245(self, address):
        host, port = address_text(address).split(':')
        sock = socket.socket()
        sock.bind((self.args.ip, 0))
        sock.connect((host, int(port)))
        self.h245 = Framed(sock)
        emit(event='h245-connected', to=address_text(address))
        for message in self.h245_opening():
            self.h245.send(message)

    def setup(self):
        body = {'protocolIdentifier': PROTOCOL, 'sourceInfo': {'terminal': {}, 'mc': False, 'undefinedNode': False},
                'sourceAddress': [('dialledDigits', self.args.alias)],
                'destinationAddress': [('dialledDigits', self.args.dial)] if self.args.dial.isdigit() else [('h323-ID', self.args.dial)],
                'activeMC': False, 'conferenceID': bytes(range(16)), 'conferenceGoal': ('create', 0),
                'callType': ('pointToPoint', 0), 'callIdentifier': {'guid': self.call_identifier},
                'mediaWaitForConnect': False, 'canOverlapSend': False, 'multipleCalls': False, 'maintainConnection': False}
        if self.args.dest:
            host, port = self.args.dest.split(':')
            body['destCallSignalAddress'] = ('ipAddress', {'ip': ip_bytes(host), 'port': int(port)})
        if self.args.mode == 'faststart':
            proposals = []
            for session in self.sessions:
                proposals.append(olc_encoding(100 + session, session, rtcp=self.rtcp(session)))
                proposals.append(olc_encoding(session, session, rtp=self.rtp(session), rtcp=self.rtcp(session), reverse=True))
            body['fastStart'] = proposals
        bearer = bytes([0x04, 3, 0x88, 0x90, 0xA5])
        return q931('setup', self.crv, False, self.pdu('setup', body), extra_ies=bearer)

    def answer(self):
        """The callee's CallProceeding, Alerting and Connect, sent."""
        for message in self.answer_messages():
            self.signalling.send(message)
        if self.args.mode == 'tunnel':
            self.signalling.send(q931('facility', self.crv, True, self.tunnel(self.h245_opening())))

    def answer_messages(self):
        """The callee's CallProceeding, Alerting and Connect (with its fastStart answer, or its H.245 listener)."""
        destination = {'terminal': {}, 'mc': False, 'undefinedNode': False}
        common = {'protocolIdentifier': PROTOCOL, 'destinationInfo': destination, 'callIdentifier': {'guid': self.call_identifier},
                  'multipleCalls': False, 'maintainConnection': False}
        messages = [q931('callProceeding', self.crv, True, self.pdu('callProceeding', dict(common))),
                    q931('alerting', self.crv, True, self.pdu('alerting', dict(common)))]
        connect = dict(common, conferenceID=bytes(range(16)))
        if self.args.mode == 'faststart':
            answers = []
            for session in self.sessions:
                answers.append(olc_encoding(session, session, rtcp=self.rtcp(session)))
                answers.append(olc_encoding(100 + session, session, rtp=self.rtp(session), rtcp=self.rtcp(session), reverse=True))
            connect['fastStart'] = answers
        if self.args.mode == 'separate':
            self.h245_listener = socket.socket()
            self.h245_listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.h245_listener.bind((self.args.ip, 0))
            self.h245_listener.listen(1)
            connect['h245Address'] = ('ipAddress', {'ip': ip_bytes(self.args.ip), 'port': self.h245_listener.getsockname()[1]})
        messages.append(q931('connect', self.crv, True, self.pdu('connect', connect)))
        return messages

    # -- the call ------------------------------------------------------------------------------------
    def connect(self, address):
        sock = socket.socket()
        sock.bind((self.args.ip, 0))
        host, port = address.split(':')
        sock.connect((host, int(port)))
        self.signalling = Framed(sock)
        self.signalling.send(self.setup())
        emit(event='sent', type='setup', to=address)

    def run(self):
        if self.args.role == 'caller':
            self.connect(self.args.connect)
        else:
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.args.ip, self.args.port))
            listener.listen(1)
            emit(event='listening', port=listener.getsockname()[1])
            sock, peer = listener.accept()
            emit(event='accepted', peer='%s:%d' % peer)
            self.signalling = Framed(sock)
        deadline = time.time() + self.args.timeout
        while time.time() < deadline and not self.signalling.closed:
            sockets = [self.signalling.sock] + [s for s in (self.h245 and self.h245.sock, self.h245_listener) if s]
            readable, _, _ = select.select(sockets + list(self.media), [], [], 0.05)
            for sock in readable:
                if sock in self.media:
                    self.relay_media(sock)
                elif sock is self.h245_listener:
                    accepted, _ = self.h245_listener.accept()
                    self.h245 = Framed(accepted)
                    self.h245_listener.close()
                    self.h245_listener = None
                    emit(event='h245-accepted')
                    for message in self.h245_opening():
                        self.h245.send(message)
                elif self.h245 and sock is self.h245.sock:
                    for frame in self.h245.frames():
                        for answer in self.h245_received(frame):
                            self.h245.send(answer)
                else:
                    connection = self.signalling
                    for frame in connection.frames():
                        if self.signalling is not connection:
                            break  # the call was forwarded: the rest of the old connection is moot
                        message_type, body = self.handle(frame)
                        if message_type == 'setup':
                            self.crv = parse_q931(frame)[1]
                            self.answer()
                        if message_type == 'connect' and self.args.mode == 'tunnel':
                            self.signalling.send(q931('facility', self.crv, False, self.tunnel(self.h245_opening())))
            if self.args.status_enquiry and self.learned and not getattr(self, 'asked', False):
                self.asked = True
                self.signalling.send(q931('statusEnquiry', self.crv, self.args.role == 'callee', self.pdu('statusInquiry', {
                    'protocolIdentifier': PROTOCOL, 'callIdentifier': {'guid': self.call_identifier}})))
            if self.args.hangup_file and os.path.exists(self.args.hangup_file) and not self.ended:
                self.ended = True
                if self.args.end == 'release':
                    self.signalling.send(q931('releaseComplete', self.crv, self.args.role == 'callee', self.pdu('releaseComplete', {
                        'protocolIdentifier': PROTOCOL, 'callIdentifier': {'guid': self.call_identifier}}),
                        extra_ies=bytes([0x08, 2, 0x80, 0x90])))
                    emit(event='sent', type='releaseComplete')
                    time.sleep(0.2)
                    break
                if self.args.end == 'drop':
                    emit(event='dropped')
                    break
        emit(event='closed', by='peer' if self.signalling.closed else 'us')
        self.signalling.sock.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('role', choices=['caller', 'callee'])
    parser.add_argument('--ip', required=True, help='the endpoint own IP (signalling and media)')
    parser.add_argument('--port', type=int, default=0, help='callee: the call-signalling port to listen on')
    parser.add_argument('--connect', help='caller: HOST:PORT of the node')
    parser.add_argument('--dest', help='caller: destCallSignalAddress HOST:PORT')
    parser.add_argument('--dial', default='5551234')
    parser.add_argument('--alias', default='4440000')
    parser.add_argument('--mode', choices=['faststart', 'tunnel', 'separate'], default='faststart')
    parser.add_argument('--video', action='store_true')
    parser.add_argument('--rtp-port', type=int, required=True)
    parser.add_argument('--sender-port', type=int, help='where this endpoint\'s ffmpeg sender sends from')
    parser.add_argument('--deliver-port', type=int, help='where this endpoint\'s ffmpeg receiver listens')
    parser.add_argument('--hangup-file')
    parser.add_argument('--end', choices=['release', 'drop', 'wait'], default='wait')
    parser.add_argument('--status-enquiry', action='store_true')
    parser.add_argument('--timeout', type=float, default=30)
    Endpoint(parser.parse_args()).run()


if __name__ == '__main__':
    main()
