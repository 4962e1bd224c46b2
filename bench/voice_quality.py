#!/usr/bin/env python3
"""How transcoded calls sound: ITU-T P.862 PESQ (MOS-LQO) of speech through Spillway and rtpengine.

Speech: sentences spoken by espeak-ng in a man's and a woman's voice (Debian `espeak-ng`), resampled
by ffmpeg to 8 kHz for a G.711 sender and 48 kHz for an Opus sender. Each is sent through one call in
each direction, PCMU -> Opus, Opus -> PCMU, PCMA -> Opus, G722 -> Opus and Opus -> G722, through
Spillway and rtpengine with the same NG flags, in one run: ffmpeg sends (-re, 20 ms packets), ffmpeg
receives through the call's SDP (Opus decoded by libopus) and writes 8 kHz (16 kHz with a G.722 end).
The received speech is aligned with the source by cross-correlation and scored by PESQ (PyPI `pesq`,
by the suite's scorer, Tests/InteropTests/Scripts/pesq_score.py): narrowband where an end is G.711,
wideband (P.862.2) where both ends are wideband.

The ceiling is the same codec chain with no relay, through libopus and libavcodec's G.711 and G.722
alone: G.711 or G.722 -> Opus (at the relay's encoder settings) -> decoded, and the sender's Opus ->
decoded -> G.711 or G.722 -> decoded.

    swift build -c release
    python3 bench/voice_quality.py [--runs 2] [--spillway-flags "--opus-complexity 10"] [--json bench/out/voice.json]

Needs espeak-ng, ffmpeg (with libopus), rtpengine-daemon, and `pip install pesq numpy`.
"""
import argparse, json, os, signal, statistics, subprocess, sys, tempfile, time

from relays import ROOT, ng, relay_port, rtpengine_command, spillway_command, start_ng_relay

sys.path.insert(0, os.path.join(ROOT, "Tests", "InteropTests", "Scripts"))
from pesq_score import score as pesq_and_lag  # noqa: E402  (the suite's scorer: alignment, then PESQ narrowband)

SENTENCES = [
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
    "It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls. The juice of lemons makes fine punch.",
]
VOICES = {"male": "en-us+m3", "female": "en-us+f3"}
CALLER, CALLEE = 44100, 44102
DIRECTIONS = {
    # name: (sender codec, receiver codec, rate scored at: 8000 narrowband, 16000 wideband)
    "PCMU -> Opus": ("PCMU", "opus", 8000),
    "Opus -> PCMU": ("opus", "PCMU", 8000),
    "PCMA -> Opus": ("PCMA", "opus", 8000),
    "G722 -> Opus": ("G722", "opus", 16000),
    "Opus -> G722": ("opus", "G722", 16000),
}
RTPMAP = {"PCMU": ("0", "PCMU/8000"), "PCMA": ("8", "PCMA/8000"), "G722": ("9", "G722/8000"),
          "opus": ("96", "opus/48000/2")}
ENCODER = {"PCMU": "pcm_mulaw", "PCMA": "pcm_alaw", "G722": "g722"}
# How the Opus sender encodes its speech (a softphone's usual settings).
SENDER_OPUS = ["-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-application", "voip"]


def sdp(port, codec):
    payload_type, rtpmap = RTPMAP[codec]
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP %s\r\na=rtpmap:%s %s\r\na=ptime:20\r\n" % (port, payload_type, payload_type, rtpmap))


def ffmpeg(*arguments):
    """Runs ffmpeg to completion; its RTP muxer's SDP (on standard output) is not wanted."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-nostdin", *arguments], check=True,
                   stdout=subprocess.DEVNULL)


def speech(directory, voice):
    """The voice's sentences at 8, 16 and 48 kHz, with half a second of silence first and last."""
    raw = os.path.join(directory, voice + "-espeak.wav")
    subprocess.run(["espeak-ng", "-v", VOICES[voice], "-s", "150", "-w", raw, " ".join(SENTENCES)], check=True)
    files = {}
    for rate in (8000, 16000, 48000):
        files[rate] = os.path.join(directory, "%s-%d.wav" % (voice, rate))
        ffmpeg("-i", raw, "-af", "adelay=500,apad=pad_dur=0.5", "-ar", str(rate), "-ac", "1", "-c:a", "pcm_s16le",
               files[rate])
    return files


def relayed(ng_port, direction, files, directory, tag):
    """One call through the relay at `ng_port`: the sender's speech, what the receiver decoded (a WAV
    at the direction's scoring rate)."""
    sender, receiver, rate = DIRECTIONS[direction]
    call_id = "voice-%s-%d" % (tag, time.monotonic_ns())
    offer = ng(ng_port, {"command": "offer", "call-id": call_id, "from-tag": "caller", "sdp": sdp(CALLER, sender),
                         "codec": {"transcode": [receiver]}})
    answer = ng(ng_port, {"command": "answer", "call-id": call_id, "from-tag": "caller", "to-tag": "callee",
                          "sdp": sdp(CALLEE, receiver)})
    receiver_sdp = os.path.join(directory, "receiver.sdp")
    open(receiver_sdp, "w").write(sdp(CALLEE, receiver))
    output = os.path.join(directory, "%s.wav" % tag)
    decoder = ["-c:a", "libopus"] if receiver == "opus" else []
    listening = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-nostdin", "-protocol_whitelist", "file,udp,rtp",
         *decoder, "-i", receiver_sdp, "-ar", str(rate), "-ac", "1", "-c:a", "pcm_s16le", output])
    time.sleep(0.7)
    if sender == "opus":
        source, codec = files[48000], SENDER_OPUS + ["-payload_type", "96"]
    else:
        source, codec = files[16000 if sender == "G722" else 8000], ["-c:a", ENCODER[sender]]
    ffmpeg("-re", "-i", source, *codec, "-f", "rtp",
           "rtp://127.0.0.1:%d?localrtpport=%d&pkt_size=1400" % (relay_port(answer), CALLER))
    time.sleep(0.7)
    listening.send_signal(signal.SIGINT)
    listening.wait(timeout=10)
    ng(ng_port, {"command": "delete", "call-id": call_id})
    return output


def ceiling(direction, files, directory, bitrate, complexity):
    """The direction's codec chain with no relay: G.711 or G.722 -> Opus at the relay's settings, or
    the sender's Opus -> G.711 or G.722; decoded at the direction's scoring rate."""
    sender, receiver, rate = DIRECTIONS[direction]
    output = os.path.join(directory, "ceiling.wav")
    coded = os.path.join(directory, "coded.wav" if "G722" not in (sender, receiver) else "coded.g722")
    if sender == "opus":
        opus = os.path.join(directory, "sender.ogg")
        ffmpeg("-i", files[48000], *SENDER_OPUS, opus)
        ffmpeg("-c:a", "libopus", "-i", opus, "-ar", str(rate), "-ac", "1", "-c:a", ENCODER[receiver], coded)
        ffmpeg("-i", coded, "-ar", str(rate), "-c:a", "pcm_s16le", output)
    else:
        ffmpeg("-i", files[rate], "-c:a", ENCODER[sender], coded)
        opus = os.path.join(directory, "relay.ogg")
        ffmpeg("-i", coded, "-c:a", "libopus", "-b:a", str(bitrate), "-compression_level", str(complexity),
               "-frame_duration", "20", "-application", "voip", opus)
        ffmpeg("-c:a", "libopus", "-i", opus, "-ar", str(rate), "-ac", "1", "-c:a", "pcm_s16le", output)
    return output


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2, help="calls per voice, direction and relay")
    parser.add_argument("--spillway", default=os.path.join(ROOT, ".build", "release", "spillway"))
    parser.add_argument("--spillway-flags", default="", help="extra `spillway serve` flags (encoder settings)")
    parser.add_argument("--ceiling-bitrate", type=int, default=32000, help="the no-relay Opus encoder's bit rate")
    parser.add_argument("--ceiling-complexity", type=int, default=10, help="the no-relay Opus encoder's complexity")
    parser.add_argument("--directions", default=",".join(DIRECTIONS),
                        help="comma-separated directions to run (default: all), e.g. 'G722 -> Opus'")
    parser.add_argument("--json")
    arguments = parser.parse_args()
    directions = [name.strip() for name in arguments.directions.split(",")]
    unknown = [name for name in directions if name not in DIRECTIONS]
    if unknown:
        raise SystemExit("unknown directions %s; there are: %s" % (unknown, ", ".join(DIRECTIONS)))
    relays = {
        "spillway": (spillway_command(arguments.spillway, 22800, ports=(45000, 45099)) + arguments.spillway_flags.split(),
                     22800),
        "rtpengine": (rtpengine_command(22801, ports=(45100, 45199)), 22801),
    }
    scores = {direction: {name: [] for name in list(relays) + ["ceiling"]} for direction in directions}
    with tempfile.TemporaryDirectory(prefix="voice-quality-") as directory:
        voices = {voice: speech(directory, voice) for voice in VOICES}
        for direction in directions:
            for files in voices.values():
                rate = DIRECTIONS[direction][2]
                scores[direction]["ceiling"].append(pesq_and_lag(
                    files[rate], ceiling(direction, files, directory, arguments.ceiling_bitrate,
                                         arguments.ceiling_complexity), rate)[0])
        for name, (command, port) in relays.items():
            relay = start_ng_relay(command, port)
            try:
                for direction in directions:
                    for voice, files in voices.items():
                        for run in range(arguments.runs):
                            output = relayed(port, direction, files, directory, "%s-%s" % (name, voice))
                            rate = DIRECTIONS[direction][2]
                            scores[direction][name].append(pesq_and_lag(files[rate], output, rate)[0])
                            print("%-10s %-13s %-7s run %d: PESQ %.3f" % (name, direction, voice, run + 1,
                                                                           scores[direction][name][-1]), flush=True)
            finally:
                relay.terminate()
                relay.wait()
    print("\nmedian PESQ MOS-LQO (narrowband with a G.711 end, else wideband), min-max over %d voices x %d runs"
          % (len(VOICES), arguments.runs))
    print("%-13s %-22s %-22s %-22s" % ("direction", "spillway", "rtpengine", "no relay (ceiling)"))
    for direction, by_relay in scores.items():
        cells = ["%.2f (%.2f-%.2f)" % (statistics.median(v), min(v), max(v)) for v in by_relay.values()]
        print("%-13s %-22s %-22s %-22s" % (direction, *cells))
    if arguments.json:
        os.makedirs(os.path.dirname(os.path.abspath(arguments.json)), exist_ok=True)
        json.dump({"scores": scores, "spillway_flags": arguments.spillway_flags}, open(arguments.json, "w"), indent=1)


if __name__ == "__main__":
    main()
