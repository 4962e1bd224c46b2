// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Spillway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "spillway", targets: ["spillway"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // C shims for the Linux syscalls the data plane batches (recvmmsg, sendmmsg, epoll, eventfd).
        .target(name: "CSpillwayShims"),

        // Pure wire-format cores: bytes in, values out, no I/O.
        .target(name: "RTP"),
        .target(name: "SDP"),
        .target(name: "Bencode"),

        // libsrtp2, and SRTP: SDES a=crypto attributes, and sessions that protect and unprotect
        // packets in place.
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        // OpenSSL libcrypto's AES-CTR and SHA-1 put into libsrtp2 in place of Debian's NSS backend.
        .target(name: "CSRTPCrypto", dependencies: ["CSRTP"], linkerSettings: [.linkedLibrary("crypto")]),
        .target(name: "SRTP", dependencies: ["CSRTP", "CSRTPCrypto"]),

        // libopus, and Codecs: G.711, Opus, resampling and the payload transcoder a leg runs.
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .target(name: "Codecs", dependencies: ["COpus"]),

        // What code on either side of a media packet shares: the kernel's socket address and the
        // recorder a worker hands accepted packets to. Small, so that `Capture` (and the fuzz
        // target) record without linking the data plane.
        .target(name: "PacketIO", dependencies: ["CSpillwayShims"]),

        // The data plane and the call model it carries.
        .target(
            name: "MediaPlane",
            dependencies: [
                "CSpillwayShims", "PacketIO", "RTP", "SDP", "SRTP", "Codecs", "CallStore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The rtpengine NG control protocol: typed requests and replies, mapped onto the call model.
        .target(
            name: "NGProtocol",
            dependencies: [
                "Bencode", "SDP", "MediaPlane", "SRTP", "Codecs",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // H.323: the ALIGNED PER codec (X.691) and the H.225.0 RAS messages, without I/O.
        .target(name: "H323"),

        // The node's H.225.0 call-signalling port: TCP connections carrying TPKT, routed H.323
        // calls and their separate H.245 connections, with media anchored on the media plane.
        .target(
            name: "H323Edge",
            dependencies: [
                "H323", "MediaPlane", "Cluster",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // libpcap, and captures: pcap/pcapng reading, UDP decoding, RTP flow detection and pairing into
        // calls, and call recording into pcap files.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        .target(name: "Capture", dependencies: ["CPcap", "CSpillwayShims", "RTP", "SDP", "PacketIO"]),

        // Cluster steering without I/O: the workload model, signed workload messages, the peer table
        // and the three steering policies (delegate, sequence, monitor). Clocks are passed in.
        .target(
            name: "Cluster",
            dependencies: ["Bencode", .product(name: "Crypto", package: "swift-crypto")]
        ),

        // The call store without I/O: the RESP2 codec Redis speaks, the keys and the records kept there.
        .target(name: "CallStore", dependencies: ["Cluster", "Bencode"]),

        // What a relay node and the load monitor are both built of, on their event loop: the service
        // runtime and timers, UDP and HTTP ports, the NG front end, the cluster link and workload
        // collector, the RAS server, and the settings' shared value types.
        .target(
            name: "ServiceEdge",
            dependencies: [
                "Cluster", "Bencode", "NGProtocol", "H323", "H323Edge", "CSpillwayShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The relay node: media plane, NG routing, cluster membership and steering, RAS, the H.323
        // call-signalling port, metrics and its configuration.
        .target(
            name: "SpillwayNode",
            dependencies: [
                "ServiceEdge", "CallStore", "MediaPlane", "NGProtocol", "Cluster", "Bencode", "Capture", "H323",
                "H323Edge",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // The load monitor: collects the nodes' workload and names the least-loaded node over the
        // cluster port, NG, HTTP JSON and RAS.
        .target(
            name: "SpillwayMonitor",
            dependencies: [
                "ServiceEdge", "Cluster", "Bencode", "NGProtocol", "H323", "H323Edge",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Client-side tools: an NG client and UDP media peers, for the demo, tests and benchmarks.
        .target(
            name: "SpillwayClient",
            dependencies: [
                "Bencode", "NGProtocol", "MediaPlane", "RTP", "SDP", "CSpillwayShims", "Capture",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),

        .executableTarget(
            name: "spillway",
            dependencies: [
                "SpillwayNode", "SpillwayMonitor", "ServiceEdge", "NGProtocol", "Bencode", "SpillwayClient",
                "MediaPlane", "Cluster",
                "Capture",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // bench/: the steering simulator (run by hand, never by the test suite).
        .executableTarget(name: "steering-simulator", dependencies: ["Cluster"], path: "bench/SteeringSimulator"),
        // bench/: the load of transcoding.py, PCMU and Opus calls paced in both directions.
        .executableTarget(
            name: "transcoding-load", dependencies: ["Codecs", "MediaPlane", "SpillwayClient"],
            path: "bench/TranscodingLoad"),
        // bench/: the load of instructions.py, which callgrind counts: one media worker forwarding
        // lock-step rounds of RTP.
        .executableTarget(
            name: "forwarding-cost",
            dependencies: ["MediaPlane", "SpillwayClient", .product(name: "Logging", package: "swift-log")],
            path: "bench/ForwardingCost"),

        // The parsers' fuzz targets: replays inputs, or fuzzes them when built by bench/fuzz.sh with
        // -sanitize=fuzzer -D FUZZING (CFuzzerDriver declares libFuzzer's driver entry).
        .target(name: "CFuzzerDriver", path: "Tests/Fuzz/CFuzzerDriver"),
        .executableTarget(
            name: "spillway-fuzz",
            dependencies: ["Bencode", "SDP", "RTP", "H323", "Capture", "CallStore", "CFuzzerDriver"],
            path: "Tests/Fuzz/FuzzTargets"),

        // C the tests need and Swift's Glibc module does not declare (posix_spawn's closefrom action).
        .target(name: "CTestShims", path: "Tests/CTestShims"),

        // Test fixtures without a node: independent encodings (pycrate's), RAS samples, tone
        // analysis and the clocks tests time with. The codec and H.323 tests need nothing more.
        .target(name: "SpillwayTestFixtures", dependencies: ["H323"], path: "Tests/Fixtures"),

        // The node harness the node and interop tests share: a loopback cluster and monitor, media
        // peers, SDP and RTP builders, RAS and TCP test clients.
        .target(
            name: "SpillwayTestSupport",
            dependencies: [
                "SpillwayTestFixtures", "SpillwayNode", "SpillwayMonitor", "ServiceEdge", "SpillwayClient", "Cluster",
                "MediaPlane", "Bencode", "SDP", "SRTP", "H323",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/Support"
        ),

        .testTarget(name: "RTPTests", dependencies: ["RTP"]),
        .testTarget(name: "SDPTests", dependencies: ["SDP"]),
        .testTarget(name: "BencodeTests", dependencies: ["Bencode"]),
        .testTarget(name: "H323Tests", dependencies: ["H323", "Cluster", "SpillwayTestFixtures"]),
        .testTarget(
            name: "SRTPTests",
            dependencies: [
                "SRTP", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "ClusterTests",
            dependencies: ["Cluster", "Bencode", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "CallStoreTests", dependencies: ["CallStore", "Cluster"]),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs", "SpillwayTestFixtures"]),
        .testTarget(name: "MediaPlaneTests", dependencies: ["MediaPlane", "RTP", "CallStore", "Cluster"]),
        .testTarget(
            name: "NodeTests",
            dependencies: [
                "SpillwayNode", "SpillwayMonitor", "ServiceEdge", "SpillwayClient", "NGProtocol", "Bencode", "SDP",
                "RTP",
                "MediaPlane", "Cluster", "SRTP",
                "SpillwayTestSupport", "SpillwayTestFixtures", "H323", "H323Edge",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "InteropTests",
            dependencies: [
                "SpillwayNode", "SpillwayMonitor", "ServiceEdge", "SpillwayClient", "NGProtocol", "Bencode", "SDP",
                "MediaPlane",
                "Capture", "Cluster", "SRTP", "CallStore", "Codecs", "RTP", "CSpillwayShims",
                "SpillwayTestSupport", "SpillwayTestFixtures", "H323", "H323Edge", "CTestShims",
            ],
            exclude: ["Scripts"]
        ),
    ]
)
